// Package invoke implements the Azure Functions custom-handler wire format
// for non-forwarded invocations: the host POSTs /{FunctionName} with a
// {"Data":{…},"Metadata":{…}} envelope and expects a 2xx application/json
// reply {"Outputs":{…},"Logs":[…],"ReturnValue":…}.
//
// Files follow the seams of the format: envelope.go (the request and reply
// envelopes and the value rules below), http.go, blob.go, servicebus.go and
// timer.go (one typed payload per trigger).
//
// Value rules, as the Functions host writes them (Azure/azure-functions-host,
// ScriptInvocationContextExtensions and the HttpWorker tests; fixtures of each
// trigger are in testdata/ and described in testdata/README.md):
//   - strings and numbers in Metadata (and string trigger values in Data) are
//     JSON-encoded twice: the metadata string abc arrives as "\"abc\"", the
//     number 1 as "1"; values encoded once are accepted too;
//   - .NET DateTime values arrive without an offset ("2024-06-15T12:34:56",
//     taken as UTC), DateTimeOffset values with one ("…+00:00");
//   - binary trigger data (dataType binary) is one base64 string;
//   - objects (Properties, ApplicationProperties, sys, timer info) are plain JSON;
//   - keys ending in "trigger" (BlobTrigger, TimerTrigger) are dropped.
//
// Decoding is lenient where the host is and lazy everywhere: a typed payload
// (Timer, Blob, ServiceBusMessage) holds its values as Fields, decoded only
// when the function reads them, so a value a function does not use never
// fails its invocation. Every decoding error wraps ErrBadRequest and names
// the value's place in the envelope (e.g. "Metadata.DeliveryCount").
package invoke
