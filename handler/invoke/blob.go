package invoke

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Blob is the payload of a blob trigger bound as name: the content in
// Data.<name> and what the host puts in Metadata (Uri, Properties, the
// blob's own Metadata and one value per {token} of the trigger's path).
// The blob's path itself (BlobTrigger) never arrives: the host drops
// Metadata keys ending in "trigger", so names come from path tokens.
type Blob struct {
	// Content is the blob's bytes. With dataType binary the host sends one
	// base64 string; without it (dataType string) the blob decoded as UTF-8
	// and JSON-quoted ("\"id,amount\\n…\""). The two cannot be confused (a
	// quote is not base64), so both are read.
	Content    Field[[]byte]
	URI        Field[string]            // Metadata.Uri, the blob's full URL
	Metadata   Field[map[string]string] // Metadata.Metadata, the blob's user metadata
	Properties BlobProperties

	meta map[string]json.RawMessage
}

// BlobProperties are the members of Metadata.Properties (the storage SDK's
// BlobProperties) a function may read; the others are never decoded.
type BlobProperties struct {
	ContentLength Field[int64]     // bytes
	ContentType   Field[string]    // as uploaded; not a verified type
	ContentHash   Field[[]byte]    // MD5 of the content when the service has it
	LastModified  Field[time.Time] // UTC
	CreatedOn     Field[time.Time] // UTC
}

// Blob returns the blob-trigger payload bound as name. It never fails: each
// value is decoded, and can fail, only when read.
func (r *Request) Blob(name string) Blob {
	props, perr := object("Metadata.Properties", r.meta("Properties"))
	return Blob{
		Content:  newField("Data."+name, r.Data[name], decodeBlobContent),
		URI:      newField("Metadata.Uri", r.meta("Uri"), decodeString),
		Metadata: newField("Metadata.Metadata", r.meta("Metadata"), decodeJSON[map[string]string]),
		Properties: BlobProperties{
			ContentLength: member("Metadata.Properties", props, perr, "ContentLength", decodeInt),
			ContentType:   member("Metadata.Properties", props, perr, "ContentType", decodeString),
			ContentHash:   member("Metadata.Properties", props, perr, "ContentHash", decodeBase64),
			LastModified:  member("Metadata.Properties", props, perr, "LastModified", decodeTime),
			CreatedOn:     member("Metadata.Properties", props, perr, "CreatedOn", decodeTime),
		},
		meta: r.Metadata,
	}
}

// Token is the value of a {token} in the trigger's path, e.g. Token("name")
// for "uploads/{name}" (a Metadata string, double-encoded on the wire).
func (b Blob) Token(token string) Field[string] {
	return newField("Metadata."+token, lookupKey(b.meta, token), decodeString)
}

// decodeBlobContent reads base64 (dataType binary) or a JSON-quoted string
// (dataType string), told apart by the leading quote.
func decodeBlobContent(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("not a string (want base64 or a JSON-quoted string)")
	}
	if len(s) > 0 && s[0] == '"' {
		var text string
		if err := json.Unmarshal([]byte(s), &text); err != nil {
			return nil, errors.New("malformed quoted string content")
		}
		return []byte(text), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64 (is dataType binary set on the trigger?)")
	}
	return b, nil
}
