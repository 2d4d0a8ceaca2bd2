-- 001_initial: the durable side of stockgate, written only by stockgate-sync.
-- Times are milliseconds since the epoch (UTC), as in the ledger; event ids are the Redis stream
-- entry ids packed as (ms << 20) | seq, so they order exactly like the stream.

-- Current state per SKU: the fold of inventory_history (counters and version), plus the options
-- set by PUT /v1/stock (per_customer_limit, applied from the newest stock record: limit_event).
CREATE TABLE IF NOT EXISTS inventory (
  sku BIGINT NOT NULL PRIMARY KEY,
  on_hand BIGINT NOT NULL DEFAULT 0,
  reserved BIGINT NOT NULL DEFAULT 0,
  sold BIGINT NOT NULL DEFAULT 0,
  version BIGINT NOT NULL DEFAULT 0,
  per_customer_limit BIGINT NOT NULL DEFAULT 0,
  limit_event BIGINT NOT NULL DEFAULT 0,
  updated_at_ms BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB;

-- One row per ledger event (DESIGN invariant 3), exactly once: the primary key is the event id.
CREATE TABLE IF NOT EXISTS inventory_history (
  event_id BIGINT NOT NULL PRIMARY KEY,
  sku BIGINT NOT NULL,
  ref VARCHAR(64) NOT NULL,
  op ENUM('set', 'adjust', 'reserve', 'confirm', 'release', 'expire', 'return') NOT NULL,
  qty BIGINT NOT NULL,
  before_available BIGINT NOT NULL,
  after_available BIGINT NOT NULL,
  actor VARCHAR(255) NOT NULL,
  reason VARCHAR(1024) NOT NULL,
  time_ms BIGINT NOT NULL,
  version BIGINT NOT NULL,
  KEY history_by_sku (sku, event_id),
  KEY history_by_sku_time (sku, time_ms),
  KEY history_by_time (time_ms),
  KEY history_by_ref (ref)
) ENGINE = InnoDB;

-- Every reservation record, as the newest outbox record (last_event) left it. Holds in status
-- reserved are the live ones; the others keep retries idempotent after a rebuild.
CREATE TABLE IF NOT EXISTS reservations (
  order_id VARCHAR(64) NOT NULL PRIMARY KEY,
  status ENUM('reserved', 'confirmed', 'released', 'expired', 'returned') NOT NULL,
  items TEXT NOT NULL,
  customer_id VARCHAR(64) NOT NULL,
  ttl_seconds INT NOT NULL,
  confirm TINYINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  last_event BIGINT NOT NULL,
  KEY reservations_by_status (status, expires_at_ms)
) ENGINE = InnoDB;
