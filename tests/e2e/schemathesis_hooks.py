"""schemathesis hooks for this API, loaded through `hooks` in schemathesis.toml.

The document bounds a silence's `until` from the second it was served (there is no "now" in JSON Schema),
and schemathesis reads the document once and sends for a minute or more after. A value generated at the
minimum, the coverage phase's first positive case, is then in the past when it arrives, and every positive
case of that phase is refused: a drift of the clock, not a difference between the document and the server.
So each generated `until` is moved on by the time since the document was served, as if it had been served
at the moment of the call. Positive and negative cases keep their side of every bound (a value one second
under the minimum is still too soon, one over the maximum still past the 30 days).
"""

import time

import schemathesis

UNTIL = ("paths", "/api/silences", "post", "requestBody", "content", "application/json", "schema", "properties", "until")


def _served_at(case):
    node = case.operation.schema.raw_schema
    for key in UNTIL:
        node = node.get(key) if isinstance(node, dict) else None
    minimum = node.get("minimum") if isinstance(node, dict) else None
    # The document puts the minimum a minute (silence::MIN_SILENCE_SECONDS) after the time it was served.
    return minimum - 60 if isinstance(minimum, int) else None


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.operation.label != "POST /api/silences" or not isinstance(case.body, dict):
        return
    until = case.body.get("until")
    served = _served_at(case)
    # Only numbers are moved: a string, null or bool `until` is a negative case whatever the time.
    if served is None or isinstance(until, bool) or not isinstance(until, (int, float)):
        return
    case.body["until"] = until + (int(time.time()) - served)
