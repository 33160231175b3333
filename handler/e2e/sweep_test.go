package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/stores"
)

// An upload nobody submitted: once its window closed longer ago than
// SWEEP_UPLOAD_DELETE_AFTER, the Sweep function (run by the development
// host) deletes its blobs from the incoming container of Azurite and marks
// the session in the Cosmos DB stand-in; a claimed upload keeps its blobs,
// and a second run changes nothing.
func TestSweepDeletesExpiredUploads(t *testing.T) {
	id, owner, phone := newProfile(t)
	tok := token(t, owner)
	abandoned := uploadDocs(t, tok, id, doc{"deed.pdf", "application/pdf", pdfDoc("")})
	claimed := uploadDocs(t, tok, id, doc{"deed.pdf", "application/pdf", pdfDoc("")})
	submit(t, tok, id, phone, claimed.UploadID)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cosmosdb.New(sys.Env["COSMOS_ENDPOINT"], sys.Env["COSMOS_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	sessions := stores.NewUploads(c.Container(sys.Env["COSMOS_DATABASE"], sys.Env["COSMOS_CONTAINER_UPLOADS"]))
	blobOf := map[string]string{}
	// Both windows closed two hours ago (the default delay is one hour).
	for _, up := range []string{abandoned.UploadID, claimed.UploadID} {
		sess, err := sessions.GetSession(ctx, up)
		if err != nil {
			t.Fatal(err)
		}
		blobOf[up] = sess.Files[0].BlobName
		if !blobExists(t, "incoming", blobOf[up]) {
			t.Fatalf("upload %s: no blob in incoming before the sweep", up)
		}
		sess.ExpiresAt = time.Now().Add(-2 * time.Hour).UTC()
		if _, err := sessions.ReplaceSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := sys.Host.InvokeTimer(ctx, "Sweep"); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
	}
	if blobExists(t, "incoming", blobOf[abandoned.UploadID]) {
		t.Error("the abandoned upload's blob is still in incoming")
	}
	if !blobExists(t, "incoming", blobOf[claimed.UploadID]) {
		t.Error("the claimed upload's blob was deleted")
	}
	if sess, err := sessions.GetSession(ctx, abandoned.UploadID); err != nil || sess.BlobsDeletedAt == nil {
		t.Errorf("abandoned session: %+v %v", sess, err)
	}
	if sess, err := sessions.GetSession(ctx, claimed.UploadID); err != nil || sess.BlobsDeletedAt != nil {
		t.Errorf("claimed session: %+v %v", sess, err)
	}
	// Naming the abandoned upload now is refused as expired.
	mfa := mfaToken(t, tok, id, phone)
	resp, body := call(t, "PATCH", "/api/v1/profile/"+id, tok,
		`{"maritalStatus":"Married","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`","uploadId":"`+abandoned.UploadID+`"}`, map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 410 {
		t.Fatalf("PATCH naming the swept upload: %d %v", resp.StatusCode, body)
	}
}
