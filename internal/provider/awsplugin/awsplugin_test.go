package awsplugin_test

import (
	"testing"

	"karbor/internal/ownership"
	"karbor/internal/provider"
	"karbor/internal/provider/awsplugin"
)

func TestAPluginForEachType(t *testing.T) {
	aws, _ := provider.Get(provider.AWSID)
	plugins := awsplugin.Plugins(nil, ownership.Config{}, awsplugin.Options{})
	if len(plugins) != len(aws.Schema.Options) {
		t.Errorf("%d plugins for %d types", len(plugins), len(aws.Schema.Options))
	}
	for typ := range aws.Schema.Options {
		if plugins[typ] == nil {
			t.Errorf("no plugin for %s", typ)
		}
	}
}

func TestATaskPluginForEachType(t *testing.T) {
	aws, _ := provider.Get(provider.AWSID)
	plugins := awsplugin.TaskPlugins(nil, ownership.Config{}, awsplugin.Options{})
	if len(plugins) != len(aws.Schema.Options) {
		t.Errorf("%d task plugins for %d types", len(plugins), len(aws.Schema.Options))
	}
	for typ := range aws.Schema.Options {
		if plugins[typ] == nil {
			t.Errorf("no task plugin for %s", typ)
		}
	}
}
