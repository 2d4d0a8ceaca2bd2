// The few API calls the page makes, all same-origin through the edge that served it. Each call
// names this page in X-Client-Id, which an edge counts as the client only where its operator
// trusts that header; otherwise the page's calls are anonymous (reads) or carry a token.
// Answers come back as {status, edge, body, code, field, message}, never thrown.

export class Api {
  constructor({ clientId, fetchFn = (...a) => fetch(...a) }) {
    this.clientId = clientId;
    this.fetch = fetchFn;
  }

  async call(method, path, { token = '', body, clientId = this.clientId } = {}) {
    const headers = { 'X-Client-Id': clientId };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      const r = await this.fetch(path, { method, headers, body });
      const text = await r.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        // Not JSON (a proxy's page, say): reported by status alone.
      }
      return {
        status: r.status,
        edge: r.headers.get('X-Stockgate-Edge') ?? '',
        body: json,
        code: json?.error?.code ?? '',
        field: json?.error?.field ?? '',
        message: json?.error?.message ?? (r.ok ? '' : `HTTP ${r.status}`),
      };
    } catch (e) {
      return { status: 0, edge: '', body: null, code: 'network', field: '', message: `network error: ${e.message}` };
    }
  }

  stocks(skus) {
    return this.call('GET', `/v1/stock?skus=${skus.join(',')}`);
  }

  history(token, sku, page, pageSize) {
    return this.call('GET', `/v1/stock/${sku}/history?page=${page}&page_size=${pageSize}`, { token });
  }
}
