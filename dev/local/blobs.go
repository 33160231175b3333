package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/profileflow/profileflow/handler/blobstore"
)

// prepareBlobs creates the incoming, landing, clean and quarantine containers in
// Azurite and sets its blob CORS rule for the development host's origin
// (where the web UI is served from, by its IP and by the name localhost), as
// Bicep does for the UI's origin in Azure.
func (s *System) prepareBlobs(ctx context.Context, env map[string]string) error {
	store, err := blobstore.New(blobstore.Options{Accounts: []string{s.Azurite.BlobURL}, AccountKey: s.Azurite.AccountKey})
	if err != nil {
		return err
	}
	if err := store.EnsureContainers(ctx, UploadContainers(env)...); err != nil {
		return fmt.Errorf("azurite containers: %w", err)
	}
	// The page may be opened as 127.0.0.1 or as localhost: both are origins.
	if err := store.SetCORS(ctx, s.URL, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)); err != nil {
		return fmt.Errorf("azurite CORS: %w", err)
	}
	return nil
}

// UploadContainers names the blob containers of every upload account, from
// the settings in env: incoming, landing, clean and quarantine. The Bicep
// upload shards declare the same containers; a test in dev/infracheck
// compares them.
func UploadContainers(env map[string]string) []string {
	return []string{env["UPLOAD_CONTAINER_INCOMING"], env["UPLOAD_CONTAINER_LANDING"], env["UPLOAD_CONTAINER_CLEAN"], env["UPLOAD_CONTAINER_QUARANTINE"]}
}
