// The floor of the edge benchmark: the bare worker plus only what the API makes any edge do on a
// sold-out answer, and nothing of the edge's own logic. It reads the buyer's token header (an
// edge that keys clients by who they are must) and answers every POST with the edge's own
// sold-out answer (status, headers and body, handed over in ANSWER), built the way the edge
// builds it; anything else gets 200, so a GET tells it is up. The edge's rate divided by this
// one's is what the edge's own work costs; this one's divided by the bare worker's is what the
// API costs in workerd.
let answer = null; // { init: Response to copy status and headers from, body: bytes }

function answerOf(env) {
  const { status, headers, body } = JSON.parse(env.ANSWER);
  return { init: new Response(null, { status, headers }), body: new TextEncoder().encode(body) };
}

export default {
  async fetch(request, env) {
    await request.arrayBuffer();
    if (request.method !== 'POST') return new Response('up');
    if (!request.headers.get('Authorization')) return new Response(null, { status: 401 });
    answer ??= answerOf(env);
    return new Response(answer.body, answer.init);
  },
};
