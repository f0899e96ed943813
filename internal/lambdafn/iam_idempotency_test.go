package lambdafn_test

import (
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// idempotencyScenarios reach an Idempotent route's calls on its table: the
// sample with an Idempotency-Key (reserve, then remember the 200), and a
// request with the key that fails after the reservation (reserve, then
// free the key): failing is its body, answered with failStatus.
func idempotencyScenarios(failing string, failStatus int) []scenario {
	withKey := func(ev *events.APIGatewayV2HTTPRequest) {
		ev.Headers["idempotency-key"] = "iam-test-key"
	}
	return []scenario{
		{name: "Idempotency-Key", edit: withKey, status: http.StatusOK},
		{name: "Idempotency-Key, error answer", edit: func(ev *events.APIGatewayV2HTTPRequest) {
			withKey(ev)
			ev.Body = failing
			delete(ev.Headers, "content-length")
		}, status: failStatus},
	}
}
