// Command show-plan is the Lambda function for GET /v1/{tenant_id}/plans/{plan_id}.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("show-plan") }
