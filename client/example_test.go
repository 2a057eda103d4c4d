package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/mlflow-auth/mlflow-auth/client"
	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
)

// Configured from MLFLOW_TRACKING_URI and MLFLOW_TRACKING_USERNAME/PASSWORD, as
// MLflow's clients are: create a user, grant a permission, list who has access.
func ExampleFromEnvironment() {
	ctx := context.Background()
	c, err := client.FromEnvironment()
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.CreateUser(ctx, &v1.CreateUserRequest{Username: "alice", Password: "a-long-password"})
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Code == "RESOURCE_ALREADY_EXISTS" {
		err = nil // alice is there already
	}
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.CreateExperimentPermission(ctx, &v1.CreateExperimentPermissionRequest{ExperimentId: "1", Username: "alice", Permission: "EDIT"})
	if err != nil {
		log.Fatal(err)
	}
	for p, err := range c.AllResourcePermissions(ctx, &v1.ListResourcePermissionsRequest{ResourceType: "experiment", ResourceId: "1"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.GetUsername(), p.GetPermission())
	}
}
