// node --experimental-websocket ws-demo.mjs: a notification channel on gcsim
// (go run ./scripts/gcsim): subscribe to an agent's presence, ping, PATCH
// the presence, print what the socket gets until two heartbeats.
const base = "http://127.0.0.1:8080";
const auth = "Basic " + Buffer.from("sim-client:sim-secret").toString("base64");
const tok = (await (await fetch(base + "/oauth/token", {method: "POST", headers: {Authorization: auth,
  "Content-Type": "application/x-www-form-urlencoded"}, body: "grant_type=client_credentials"})).json()).access_token;
const api = (method, path, body) => fetch(base + path, {method, headers: {Authorization: "Bearer " + tok,
  "Content-Type": "application/json"}, body: body && JSON.stringify(body)});
const user = "00000000-0000-4000-8000-000000000001";
const ch = await (await api("POST", "/api/v2/notifications/channels")).json();
await api("POST", `/api/v2/notifications/channels/${ch.id}/subscriptions`, [{id: `v2.users.${user}.presence`}]);
const ws = new WebSocket(ch.connectUri);
let heartbeats = 0;
ws.onopen = async () => {
  ws.send(JSON.stringify({message: "ping"}));
  const defs = await (await api("GET", "/api/v2/presencedefinitions")).json();
  const r = await api("PATCH", `/api/v2/users/${user}/presences/purecloud`, {presenceDefinition: {id: defs.entities[0].id}});
  console.log(new Date().toISOString().slice(11, 19), "PATCH presence:", r.status, "ININ-Correlation-Id:", r.headers.get("inin-correlation-id"));
};
ws.onmessage = (m) => {
  console.log(new Date().toISOString().slice(11, 19), m.data);
  if (m.data.includes("WebSocket Heartbeat") && ++heartbeats == 2) ws.close();
};
