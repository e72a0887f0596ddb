// Package docker holds the container files; this test keeps the example
// configuration valid as the config contract evolves.
package docker

import (
	"testing"

	"github.com/tributary-cdc/tributary/config"
)

func TestExampleConfigIsValid(t *testing.T) {
	t.Setenv("SHOP_DSN", "postgres://tributary:tributary@postgres:5432/shop?sslmode=disable")
	t.Setenv("LEGACY_DSN", "root:tributary@tcp(mariadb:3306)/shop")
	if _, err := config.Load("tributary.yaml"); err != nil {
		t.Fatalf("docker/tributary.yaml: %v", err)
	}
}
