#!/usr/bin/env bash
# Smoke test of a running Karbor API, end to end on the No-Op Provider:
# providers, plan, checkpoint (until available), restore (until success),
# checkpoint deletion (until deleted), plan deletion. Each step is printed;
# the first failing one is named on stderr and the script exits 1 (2 for
# bad usage). What it creates it deletes: on success as steps, on a failure
# by a best-effort clean-up on exit (its checkpoint, then its plan), so that
# failed runs do not pile up against the project's quotas.
#
#   scripts/smoke.sh URL TOKEN        (or: make smoke URL=... TOKEN=...)
#
# URL is the API's base URL, the stack's ApiUrl output (or
# http://127.0.0.1:3000 under `make run`); /v1/<project>/... goes after it.
# TOKEN is either
#   - a JWT of the deployed stack's issuer: sent as "Authorization: Bearer";
#     the project is its project_id claim (PROJECT_CLAIM names another), or
#   - the local server's development token <user_id>:<project_id>[:<roles>]
#     (the README's): sent as X-Auth-Token, as the local server reads it.
# PROJECT, when set, overrides the project read from the token.
# SMOKE_TIMEOUT (seconds, 120 by default) bounds each wait: a deployed
# restore is stepped at creation, then by the runner's one-minute tick.
# Needs bash, curl and jq.
set -uo pipefail

NOOP=b766f37c-d011-4026-8228-28730d734a3f
timeout=${SMOKE_TIMEOUT:-120}

if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
	echo "usage: $0 URL TOKEN  (make smoke URL=<ApiUrl> TOKEN=<token>)" >&2
	exit 2
fi
base=${1%/}
token=$2
for tool in curl jq; do
	command -v "$tool" >/dev/null || { echo "FAILED: setup: $tool is not on PATH" >&2; exit 1; }
done

step=setup
fail() {
	echo "FAILED: $step: $*" >&2
	exit 1
}

# The header the token goes in, and the project it names.
if [[ $token != *:* && $token == *.*.* ]]; then
	auth="Authorization: Bearer $token"
	payload=$(cut -d. -f2 <<<"$token" | tr '_-' '/+')
	while [ $((${#payload} % 4)) -ne 0 ]; do payload+="="; done
	project=${PROJECT:-$(base64 -d <<<"$payload" 2>/dev/null | jq -r --arg c "${PROJECT_CLAIM:-project_id}" '.[$c] // empty' 2>/dev/null)}
else
	auth="X-Auth-Token: $token"
	project=${PROJECT:-$(cut -s -d: -f2 <<<"$token")}
fi
[ -n "$project" ] || fail "no project: the token names none (set PROJECT)"
karbor=$base/v1/$project

# On a failure: delete what this run made, best effort, keeping the exit
# status (a checkpoint still protecting or being restored may refuse; the
# plan goes anyway).
plan='' checkpoint=''
cleanup() {
	local rc=$?
	[ "$rc" -eq 0 ] && return
	if [ -n "$checkpoint" ]; then
		curl -sS -o /dev/null --max-time 30 -X DELETE -H "$auth" "$karbor/providers/$NOOP/checkpoints/$checkpoint" || true
	fi
	if [ -n "$plan" ]; then
		curl -sS -o /dev/null --max-time 30 -X DELETE -H "$auth" "$karbor/plans/$plan" || true
	fi
	echo "smoke: cleaned up what this run made (best effort)" >&2
	exit "$rc"
}
trap cleanup EXIT

# api METHOD PATH [BODY]: prints the answer's body; any non-2xx answer says
# FAILED and returns 1 (callers in $(...) exit on it themselves).
api() {
	local out
	out=$(curl -sS --fail-with-body --max-time 30 -X "$1" -H "$auth" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$karbor$2") || {
		echo "FAILED: $step: $1 $2: ${out:-no answer}" >&2
		return 1
	}
	printf '%s' "$out"
}

# poll PATH JQ WANT BAD: until the answer's JQ is WANT; fails at once when it
# matches the regular expression BAD, or after $timeout seconds.
poll() {
	local body got deadline=$((SECONDS + timeout))
	while :; do
		body=$(api GET "$1") || exit 1
		got=$(jq -r "$2" <<<"$body")
		[ "$got" = "$3" ] && return 0
		if [[ $got =~ ^($4)$ ]]; then
			fail "it is $got, not $3: $body"
		fi
		[ $SECONDS -lt "$deadline" ] || fail "still $got after ${timeout}s, not $3"
		sleep 1
	done
}

echo "smoke: $karbor"

step="list providers"
out=$(api GET /providers) || exit 1
jq -e --arg id "$NOOP" 'any(.providers[]; .id == $id)' <<<"$out" >/dev/null ||
	fail "the No-Op Provider ($NOOP) is not listed: $out"
echo "ok: $step (the No-Op Provider is there)"

step="create plan"
out=$(api POST /plans "{\"plan\": {\"name\": \"smoke $(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"provider_id\": \"$NOOP\",
  \"parameters\": {}, \"resources\": [{\"id\": \"99777fdd-8a5b-45ab-ba2c-52420008103f\", \"type\": \"OS::Glance::Image\", \"name\": \"cirros\"}]}}") ||
	exit 1
plan=$(jq -er .plan.id <<<"$out") || fail "the answer has no plan id: $out"
echo "ok: $step $plan"

step="create checkpoint"
out=$(api POST "/providers/$NOOP/checkpoints" "{\"checkpoint\": {\"plan_id\": \"$plan\"}}") || exit 1
checkpoint=$(jq -er .checkpoint.id <<<"$out") || fail "the answer has no checkpoint id: $out"
echo "ok: $step $checkpoint"

step="checkpoint available"
poll "/providers/$NOOP/checkpoints/$checkpoint" .checkpoint.status available 'error|error-deleting|deleting|deleted'
echo "ok: $step"

step="create restore"
out=$(api POST /restores "{\"restore\": {\"provider_id\": \"$NOOP\", \"checkpoint_id\": \"$checkpoint\",
  \"restore_target\": null, \"parameters\": {}}}") || exit 1
restore=$(jq -er .restore.id <<<"$out") || fail "the answer has no restore id: $out"
echo "ok: $step $restore"

step="restore success"
poll "/restores/$restore" .restore.status success fail
echo "ok: $step"

step="delete checkpoint"
api DELETE "/providers/$NOOP/checkpoints/$checkpoint" >/dev/null || exit 1
echo "ok: $step"

step="checkpoint deleted"
poll "/providers/$NOOP/checkpoints/$checkpoint" .checkpoint.status deleted 'error|error-deleting|available'
echo "ok: $step"

step="delete plan"
api DELETE "/plans/$plan" >/dev/null || exit 1
echo "ok: $step"

echo "smoke: passed"
