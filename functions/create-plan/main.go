// Command create-plan is the Lambda function for POST /v1/{tenant_id}/plans.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("create-plan") }
