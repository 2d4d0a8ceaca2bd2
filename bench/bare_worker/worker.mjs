// The baseline of the edge benchmark: a workerd worker that answers every request 200 with a
// tiny body and does nothing else, so its rate is what workerd itself costs per request.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response('{"ok":true}', { headers: { 'Content-Type': 'application/json' } });
  },
};
