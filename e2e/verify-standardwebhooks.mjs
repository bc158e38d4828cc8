// Verifies signed deliveries with the reference Standard Webhooks library, the
// way a JavaScript receiver would. Tollgate's Go tests (signer/npm_test.go)
// and the e2e suite use it to prove that what Tollgate signs, others accept.
//
// stdin: {"secret":"whsec_...","headers":{...},"body":"<string>","now":<unix seconds, optional>}
// stdout: "ok" and exit 0, or the library's error and exit 1 (2 for bad input).
// A JSON array of such objects is checked one by one (one node start for a
// whole table): one output line per element, exit 0 only if every one is ok.
//
// "now" pins the clock for fixed golden vectors: the library reads Date.now()
// for its ±5 minute window. Deliveries captured live leave it out.
import { Webhook } from "standardwebhooks";

const realNow = Date.now;

function verifyOne(input) {
  if (typeof input !== "object" || input === null || typeof input.secret !== "string" ||
      typeof input.body !== "string" || typeof input.headers !== "object" || input.headers === null) {
    return { code: 2, line: 'bad input: want {"secret":string,"headers":object,"body":string}' };
  }
  if (input.now !== undefined) {
    const pinned = Number(input.now) * 1000;
    Date.now = () => pinned;
  } else {
    Date.now = realNow;
  }
  // The library JSON-parses the payload after a signature matches; webhooks
  // need not be JSON, so only JSON bodies take that default path and the rest
  // are verified with jsonParse off. The signature check is the same either way.
  let isJSON = true;
  try {
    JSON.parse(input.body);
  } catch {
    isJSON = false;
  }
  try {
    const wh = new Webhook(input.secret);
    if (isJSON) {
      wh.verify(input.body, input.headers);
    } else {
      wh.verify(input.body, input.headers, { jsonParse: false });
    }
    return { code: 0, line: "ok" };
  } catch (err) {
    return { code: 1, line: `${err.name}: ${err.message}` };
  }
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
let input;
try {
  input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
} catch (err) {
  console.log(`bad input: ${err.message}`);
  process.exit(2);
}

let code = 0;
for (const one of Array.isArray(input) ? input : [input]) {
  const r = verifyOne(one);
  console.log(r.line);
  code = Math.max(code, r.code);
}
process.exit(code);
