// Command not-found is the Lambda function for API Gateway's $default route:
// requests that match no route get the fault shape (404, or 405 for a known
// path).
package main

import "karbor/internal/lambdafn"

func main() { lambdafn.Start("not-found") }
