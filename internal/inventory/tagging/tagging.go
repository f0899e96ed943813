// Package tagging adapts the Resource Groups Tagging API's client to
// inventory.TaggingAPI.
package tagging

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"karbor/internal/inventory"
)

// API is what the adapter calls: GetResources (IAM: tag:GetResources).
type API interface {
	GetResources(context.Context, *resourcegroupstaggingapi.GetResourcesInput, ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error)
}

// Client is inventory.TaggingAPI over the tagging API.
type Client struct{ API API }

var _ inventory.TaggingAPI = Client{}

// Tagged implements inventory.TaggingAPI: one GetResources call per 100
// resources.
func (c Client) Tagged(ctx context.Context, resourceType, key, value string) ([]inventory.Tagged, error) {
	var found []inventory.Tagged
	in := &resourcegroupstaggingapi.GetResourcesInput{
		TagFilters:          []types.TagFilter{{Key: aws.String(key), Values: []string{value}}},
		ResourceTypeFilters: []string{resourceType},
		ResourcesPerPage:    aws.Int32(100),
	}
	for {
		out, err := c.API.GetResources(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, m := range out.ResourceTagMappingList {
			tags := make(map[string]string, len(m.Tags))
			for _, t := range m.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			found = append(found, inventory.Tagged{ARN: aws.ToString(m.ResourceARN), Tags: tags})
		}
		if aws.ToString(out.PaginationToken) == "" {
			return found, nil
		}
		in.PaginationToken = out.PaginationToken
	}
}

// Use gives an inventory the tagging API's client, which listing tables in
// tag mode needs (TAGGING_ENDPOINT replaces AWS's endpoint when set): an
// inventoryfn.Option.
func Use(cfg aws.Config, inv *inventory.Inventory) {
	inv.Tagging = New(cfg, os.Getenv("TAGGING_ENDPOINT"))
}

// New is the adapter over a client of the tagging API (endpoint replaces
// AWS's when not empty).
func New(cfg aws.Config, endpoint string) Client {
	return Client{API: resourcegroupstaggingapi.NewFromConfig(cfg, func(o *resourcegroupstaggingapi.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})}
}
