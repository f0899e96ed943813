// Package inventoryfn starts the route functions that look up protectable
// resources (plan create and update, protectable instances): it builds
// their inventory (package inventory) over the function's AWS
// configuration. Only those functions link it, and with it the EC2 SDK;
// only the ones that pass tagging.Use (their main imports package
// inventory/tagging) link the tagging API's client, whose package init
// builds its schemas.
package inventoryfn

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"karbor/internal/api"
	"karbor/internal/domain"
	"karbor/internal/inventory"
	"karbor/internal/lambdafn"
	"karbor/internal/ownership"
)

// Option adds to the inventory's clients.
type Option func(cfg aws.Config, inv *inventory.Inventory)

// Start serves the route with an inventory and never returns.
func Start(route api.Route, opts ...Option) {
	lambdafn.StartWith(route, Builder(opts...))
}

// Builder builds the inventory from the environment: the ownership
// configuration (ownership.FromEnv), TABLE_ARN_PREFIX (the template's
// Globals), DYNAMODB_ENDPOINT and EC2_ENDPOINT (local only) replacing AWS's
// endpoints.
func Builder(opts ...Option) lambdafn.InventoryBuilder {
	return func(cfg aws.Config) (domain.Inventory, error) {
		own, err := ownership.FromEnv()
		if err != nil {
			return nil, err
		}
		inv := &inventory.Inventory{
			DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
				if e := os.Getenv("DYNAMODB_ENDPOINT"); e != "" {
					o.BaseEndpoint = aws.String(e)
				}
			}),
			EC2: ec2.NewFromConfig(cfg, func(o *ec2.Options) {
				if e := os.Getenv("EC2_ENDPOINT"); e != "" {
					o.BaseEndpoint = aws.String(e)
				}
			}),
			Ownership:      own,
			Region:         cfg.Region,
			TableARNPrefix: os.Getenv(inventory.TableARNPrefixEnv),
		}
		for _, o := range opts {
			o(cfg, inv)
		}
		return inv, nil
	}
}
