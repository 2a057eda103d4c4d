package service

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/mlflow-auth/mlflow-auth/gen/go/mlflowauth/v1"
	"github.com/mlflow-auth/mlflow-auth/permission"
	"github.com/mlflow-auth/mlflow-auth/storage"
	"github.com/mlflow-auth/mlflow-auth/token"
)

// DefaultTokenMaxLifetime is the longest a token may live unless the server says otherwise.
const DefaultTokenMaxLifetime = 90 * 24 * time.Hour

type tokenService struct {
	v1.UnimplementedTokenServiceServer
	*core
}

func tokenNotFound(username, name string) string {
	return "Token " + quoted(name) + " of user " + quoted(username) + " not found"
}

// tokenOwner is the user named by a token request (the policy let the caller act for them).
func (s *tokenService) tokenOwner(ctx context.Context, username string) (storage.User, error) {
	u, err := s.store.UserByName(ctx, username)
	if err != nil {
		return u, storageError(ctx, err, userNotFound(username), "")
	}
	return u, nil
}

// token is the token of u named name, or MLflow-style not found.
func (s *tokenService) token(ctx context.Context, u storage.User, name string) (storage.Token, error) {
	ts, err := s.tokens.TokensOfUser(ctx, u.ID)
	if err != nil {
		return storage.Token{}, internalError(ctx, err)
	}
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	return storage.Token{}, storageError(ctx, storage.ErrNotFound, tokenNotFound(u.Username, name), "")
}

// lifetime is how long a new or rotated token lives: days, at most the server's maximum.
func (s *tokenService) lifetime(days int32) (time.Duration, error) {
	if days == 0 {
		return s.tokenMaxLifetime, nil
	}
	d := time.Duration(days) * 24 * time.Hour
	if days < 0 || d > s.tokenMaxLifetime {
		return 0, apiError(codeInvalidParameter, "Invalid value for parameter 'expires_in_days': it must be between 1 and %d.",
			int(s.tokenMaxLifetime/(24*time.Hour)))
	}
	return d, nil
}

// now is the token clock, to the microsecond that both stores keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (s *tokenService) CreateToken(ctx context.Context, req *v1.CreateTokenRequest) (*v1.CreateTokenResponse, error) {
	if req.Ceiling != "" && req.Ceiling != string(permission.Read) {
		return nil, apiError(codeInvalidParameter, "Invalid value for parameter 'ceiling': it must be empty or READ.")
	}
	life, err := s.lifetime(req.ExpiresInDays)
	if err != nil {
		return nil, err
	}
	u, err := s.tokenOwner(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	secret, hash := token.New()
	created := now()
	after := tokenValue{Username: u.Username, Name: req.Name, Ceiling: req.Ceiling, ExpiresAt: created.Add(life).Format(time.RFC3339)}
	t, err := s.tokens.CreateToken(tokenChange(ctx, "token.create", u.Username, req.Name, nil, after), storage.Token{UserID: u.ID, Name: req.Name, Hash: hash[:],
		Ceiling: permission.Level(req.Ceiling), CreatedAt: created, ExpiresAt: created.Add(life)})
	if err != nil {
		return nil, storageError(ctx, err, userNotFound(req.Username),
			"Token "+quoted(req.Name)+" of user "+quoted(req.Username)+" already exists.")
	}
	return &v1.CreateTokenResponse{TokenInfo: tokenMessage(t, u.Username), Token: secret}, nil
}

func (s *tokenService) ListTokens(ctx context.Context, req *v1.ListTokensRequest) (*v1.ListTokensResponse, error) {
	u, err := s.tokenOwner(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	ts, err := s.tokens.TokensOfUser(ctx, u.ID)
	if err != nil {
		return nil, internalError(ctx, err)
	}
	out := make([]*v1.Token, len(ts))
	for i, t := range ts {
		out[i] = tokenMessage(t, u.Username)
	}
	return &v1.ListTokensResponse{Tokens: out}, nil
}

func (s *tokenService) RotateToken(ctx context.Context, req *v1.RotateTokenRequest) (*v1.RotateTokenResponse, error) {
	life, err := s.lifetime(req.ExpiresInDays)
	if err != nil {
		return nil, err
	}
	u, err := s.tokenOwner(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	secret, hash := token.New()
	created := now()
	old, err := s.token(ctx, u, req.Name)
	if err != nil {
		return nil, err
	}
	before := tokenValueOf(old, u.Username)
	after := before
	after.ExpiresAt = created.Add(life).Format(time.RFC3339)
	t, err := s.tokens.RotateToken(tokenChange(ctx, "token.rotate", u.Username, req.Name, before, after), u.ID, req.Name, hash[:], created, created.Add(life))
	if err != nil {
		return nil, storageError(ctx, err, tokenNotFound(req.Username, req.Name), "")
	}
	return &v1.RotateTokenResponse{TokenInfo: tokenMessage(t, u.Username), Token: secret}, nil
}

func (s *tokenService) RevokeToken(ctx context.Context, req *v1.RevokeTokenRequest) (*v1.RevokeTokenResponse, error) {
	u, err := s.tokenOwner(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	old, err := s.token(ctx, u, req.Name)
	if err != nil {
		return nil, err
	}
	before := tokenValueOf(old, u.Username)
	if err := s.tokens.RevokeToken(tokenChange(ctx, "token.revoke", u.Username, req.Name, before, nil), u.ID, req.Name); err != nil {
		return nil, storageError(ctx, err, tokenNotFound(req.Username, req.Name), "")
	}
	return &v1.RevokeTokenResponse{}, nil
}

func tokenMessage(t storage.Token, username string) *v1.Token {
	m := &v1.Token{Id: t.ID, Username: username, Name: t.Name, Ceiling: string(t.Ceiling),
		CreatedAt: timestamppb.New(t.CreatedAt), ExpiresAt: timestamppb.New(t.ExpiresAt)}
	if t.LastUsedAt != nil {
		m.LastUsedAt = timestamppb.New(*t.LastUsedAt)
	}
	return m
}
