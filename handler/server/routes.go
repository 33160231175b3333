package server

import (
	"context"
	"net/http"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/invoke"
)

// route is one forwarded HTTP endpoint. Function names the folder under
// functions/ whose function.json declares the route (a test keeps them in step).
type route struct {
	Function string
	Method   string
	Pattern  string // Go ServeMux pattern, including the /api prefix
	Handle   func(s *Server, w http.ResponseWriter, r *http.Request, p domain.Principal) error
}

// trigger is one non-HTTP function, invoked as POST /{Function}.
type trigger struct {
	Function string
	Handle   func(s *Server, ctx context.Context, req *invoke.Request) (invoke.Response, error)
	// MetadataOnly: the function reads no Data value, so the envelope is
	// decoded without keeping them (invoke.DecodeMetadata).
	MetadataOnly bool
}

// routes is the one routing table of the API.
var routes = []route{
	{Function: "Profile", Method: "GET", Pattern: "/api/v1/profile/{internalID}", Handle: (*Server).getProfile},
	{Function: "Profile", Method: "PATCH", Pattern: "/api/v1/profile/{internalID}", Handle: (*Server).patchProfile},
	{Function: "Request", Method: "GET", Pattern: "/api/v1/requests/{requestId}", Handle: (*Server).getRequest},
	{Function: "RequestAttachment", Method: "GET", Pattern: "/api/v1/requests/{requestId}/attachments/{name}", Handle: (*Server).getAttachment},
	{Function: "RequestAction", Method: "POST", Pattern: "/api/v1/requests/{requestId}/cancel", Handle: (*Server).cancelRequest},
	{Function: "RequestAction", Method: "POST", Pattern: "/api/v1/requests/{requestId}/approve", Handle: (*Server).approveRequest},
	{Function: "RequestAction", Method: "POST", Pattern: "/api/v1/requests/{requestId}/reject", Handle: (*Server).rejectRequest},
	{Function: "RequestAction", Method: "POST", Pattern: "/api/v1/requests/{requestId}/send-back", Handle: (*Server).sendBackRequest},
	{Function: "Approvals", Method: "GET", Pattern: "/api/v1/approvals", Handle: (*Server).listApprovals},
	{Function: "MfaChallenge", Method: "POST", Pattern: "/api/v1/mfa/challenge", Handle: (*Server).mfaChallenge},
	{Function: "MfaVerify", Method: "POST", Pattern: "/api/v1/mfa/verify", Handle: (*Server).mfaVerify},
	{Function: "Uploads", Method: "POST", Pattern: "/api/v1/profile/{internalID}/uploads", Handle: (*Server).createUpload},
	{Function: "Uploads", Method: "GET", Pattern: "/api/v1/profile/{internalID}/uploads/{uploadId}", Handle: (*Server).getUpload},
}

// triggers is the one table of non-HTTP functions.
var triggers = []trigger{
	{Function: "Sweep", Handle: (*Server).sweep},
	{Function: "ScanAttachment", Handle: (*Server).scanAttachment, MetadataOnly: true},
	{Function: "WorkflowStep", Handle: (*Server).workflowStep},
	{Function: "WorkflowDeadLetter", Handle: (*Server).workflowDeadLetter},
	{Function: "Notify", Handle: (*Server).notifyTrigger},
}
