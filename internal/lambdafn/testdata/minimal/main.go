// Command minimal is the smallest aws-lambda-go function, the yardstick of
// BenchmarkColdStart: the deployed functions' init time and binary size are
// reported as ratios to its. A test fixture (under testdata, so ./... does
// not list it): never deployed.
package main

import "github.com/aws/aws-lambda-go/lambda"

func main() { lambda.Start(func() (string, error) { return "ok", nil }) }
