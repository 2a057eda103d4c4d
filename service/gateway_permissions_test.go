package service_test

import (
	"net/http"
	"testing"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
)

// MLflow 3.12's gateway permission calls, over gRPC and REST: who may call them,
// their errors, and that they read and write the same grants as the unified calls.
func TestGatewayPermissions(t *testing.T) {
	s := startServer(t, permission.Read)
	for _, tr := range s.transports(t) {
		t.Run(tr.name(), func(t *testing.T) {
			admin := caller{t, tr, adminUser, adminPass}
			owner, reader := "gw-owner-"+tr.name(), "gw-reader-"+tr.name()
			ownerUser := admin.createUser(owner, "owner-password")
			admin.createUser(reader, "reader-password")
			asOwner, asReader := admin.as(owner, "owner-password"), admin.as(reader, "reader-password")
			secret := "secret-" + tr.name()

			create := v1.PermissionService_CreateGatewaySecretPermission_FullMethodName
			get := v1.PermissionService_GetGatewaySecretPermission_FullMethodName
			update := v1.PermissionService_UpdateGatewaySecretPermission_FullMethodName
			del := v1.PermissionService_DeleteGatewaySecretPermission_FullMethodName

			asOwner.expect(denied, create, &v1.CreateGatewaySecretPermissionRequest{SecretId: secret, Username: reader, Permission: "READ"}, &v1.CreateGatewaySecretPermissionResponse{})
			granted := &v1.CreateGatewaySecretPermissionResponse{}
			admin.expect("", create, &v1.CreateGatewaySecretPermissionRequest{SecretId: secret, Username: owner, Permission: "MANAGE"}, granted)
			if p := granted.GatewaySecretPermission; p.SecretId != secret || p.UserId != ownerUser.Id || p.Permission != "MANAGE" {
				t.Fatalf("granted %v", p)
			}
			asOwner.expect("", create, &v1.CreateGatewaySecretPermissionRequest{SecretId: secret, Username: reader, Permission: "READ"}, &v1.CreateGatewaySecretPermissionResponse{})
			asOwner.expect(exists, create, &v1.CreateGatewaySecretPermissionRequest{SecretId: secret, Username: reader, Permission: "EDIT"}, &v1.CreateGatewaySecretPermissionResponse{})
			asOwner.expect(invalid, update, &v1.UpdateGatewaySecretPermissionRequest{SecretId: secret, Username: reader, Permission: "BOSS"}, &v1.UpdateGatewaySecretPermissionResponse{})
			asReader.expect(denied, update, &v1.UpdateGatewaySecretPermissionRequest{SecretId: secret, Username: reader, Permission: "MANAGE"}, &v1.UpdateGatewaySecretPermissionResponse{})
			asOwner.expect("", update, &v1.UpdateGatewaySecretPermissionRequest{SecretId: secret, Username: reader, Permission: "EDIT"}, &v1.UpdateGatewaySecretPermissionResponse{})

			// The unified call sees the grant the classic call wrote, and the other way round.
			level := &v1.GetUserPermissionResponse{}
			admin.expect("", v1.PermissionService_GetUserPermission_FullMethodName, &v1.GetUserPermissionRequest{Username: reader, ResourceType: "gateway_secret", ResourceId: secret}, level)
			if level.Permission != "EDIT" {
				t.Fatalf("unified get: %v, want EDIT", level)
			}
			admin.expect("", v1.PermissionService_GrantPermission_FullMethodName, &v1.GrantPermissionRequest{Username: reader, ResourceType: "gateway_endpoint", ResourceId: "ep-" + tr.name(), Permission: "USE"}, &v1.GrantPermissionResponse{})
			ep := &v1.GetGatewayEndpointPermissionResponse{}
			admin.expect("", v1.PermissionService_GetGatewayEndpointPermission_FullMethodName, &v1.GetGatewayEndpointPermissionRequest{EndpointId: "ep-" + tr.name(), Username: reader}, ep)
			if p := ep.GatewayEndpointPermission; p.EndpointId != "ep-"+tr.name() || p.Permission != "USE" {
				t.Fatalf("classic get of a unified grant: %v", p)
			}
			md := &v1.CreateGatewayModelDefinitionPermissionResponse{}
			admin.expect("", v1.PermissionService_CreateGatewayModelDefinitionPermission_FullMethodName, &v1.CreateGatewayModelDefinitionPermissionRequest{ModelDefinitionId: "md", Username: reader, Permission: "READ"}, md)
			if p := md.GatewayModelDefinitionPermission; p.ModelDefinitionId != "md" || p.Permission != "READ" {
				t.Fatalf("model definition grant: %v", p)
			}

			asOwner.expect("", del, &v1.DeleteGatewaySecretPermissionRequest{SecretId: secret, Username: reader}, &v1.DeleteGatewaySecretPermissionResponse{})
			asOwner.expect(notFound, get, &v1.GetGatewaySecretPermissionRequest{SecretId: secret, Username: reader}, &v1.GetGatewaySecretPermissionResponse{})
			asOwner.expect(notFound, del, &v1.DeleteGatewaySecretPermissionRequest{SecretId: secret, Username: reader}, &v1.DeleteGatewaySecretPermissionResponse{})
		})
	}
}

// The REST routes and MLflow's JSON and messages, /ajax-api alike.
func TestGatewayPermissionsREST(t *testing.T) {
	s := startServer(t, permission.Read)
	status, body := getJSON(t, s, "POST", "/api/2.0/mlflow/users/create", adminUser, adminPass, `{"username": "gw", "password": "password1234"}`)
	if status != http.StatusOK {
		t.Fatalf("create user: %d %v", status, body)
	}
	for _, c := range []struct{ path, field, key string }{
		{"/api/3.0/mlflow/gateway/secrets/permissions/", "secret_id", "gateway_secret_permission"},
		{"/ajax-api/3.0/mlflow/gateway/endpoints/permissions/", "endpoint_id", "gateway_endpoint_permission"},
		{"/api/3.0/mlflow/gateway/model-definitions/permissions/", "model_definition_id", "gateway_model_definition_permission"},
	} {
		status, body := getJSON(t, s, "POST", c.path+"create", adminUser, adminPass, `{"`+c.field+`": "g1", "username": "gw", "permission": "READ"}`)
		if p, _ := body[c.key].(map[string]any); status != http.StatusOK || p[c.field] != "g1" || p["permission"] != "READ" || p["user_id"] == nil {
			t.Errorf("%screate: %d %v", c.path, status, body)
		}
		status, body = getJSON(t, s, "PATCH", c.path+"update", adminUser, adminPass, `{"`+c.field+`": "g1", "username": "gw", "permission": "EDIT"}`)
		if status != http.StatusOK || len(body) != 0 {
			t.Errorf("%supdate: %d %v", c.path, status, body)
		}
		status, body = getJSON(t, s, "GET", c.path+"get?"+c.field+"=g1&username=gw", adminUser, adminPass, "")
		if p, _ := body[c.key].(map[string]any); status != http.StatusOK || p["permission"] != "EDIT" {
			t.Errorf("%sget: %d %v", c.path, status, body)
		}
		status, body = getJSON(t, s, "DELETE", c.path+"delete", adminUser, adminPass, `{"`+c.field+`": "g1", "username": "gw"}`)
		if status != http.StatusOK {
			t.Errorf("%sdelete: %d %v", c.path, status, body)
		}
		status, body = getJSON(t, s, "GET", c.path+"get?"+c.field+"=g1&username=gw", adminUser, adminPass, "")
		if status != http.StatusNotFound || body["error_code"] != "RESOURCE_DOES_NOT_EXIST" {
			t.Errorf("%sget after delete: %d %v", c.path, status, body)
		}
	}
	_, body = getJSON(t, s, "GET", "/api/3.0/mlflow/gateway/secrets/permissions/get?secret_id=s9&username=gw", adminUser, adminPass, "")
	if want := "Gateway secret permission with secret_id=s9 and username=gw not found"; body["message"] != want {
		t.Errorf("not found message %q, want %q", body["message"], want)
	}
}
