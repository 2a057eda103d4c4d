-- A service account has no password (password_hash is ''): only its tokens sign it in.
ALTER TABLE users ADD COLUMN is_service_account boolean NOT NULL DEFAULT false;
