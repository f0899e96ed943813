// Command list-providers is the Lambda function for GET /v1/{tenant_id}/providers.
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("list-providers") }
