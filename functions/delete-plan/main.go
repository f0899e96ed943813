// Command delete-plan is the Lambda function for DELETE /v1/{tenant_id}/plans/{plan_id}.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("delete-plan") }
