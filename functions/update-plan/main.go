// Command update-plan is the Lambda function for PUT /v1/{tenant_id}/plans/{plan_id}.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("update-plan") }
