// Command list-plans is the Lambda function for GET /v1/{tenant_id}/plans.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("list-plans") }
