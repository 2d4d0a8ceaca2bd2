-- 002_low_stock: each SKU's low-stock threshold, an option set by PUT /v1/stock like
-- per_customer_limit and applied from the same newest stock record (limit_event). 0: never low.
ALTER TABLE inventory ADD COLUMN IF NOT EXISTS
  low_stock_threshold BIGINT NOT NULL DEFAULT 0 AFTER per_customer_limit;
