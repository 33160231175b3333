package host

import (
	"encoding/json"
	"strings"
)

// HostConfig is the part of host.json the development host uses.
type HostConfig struct {
	Version          string
	ExecutablePath   string   // customHandler.description.defaultExecutablePath
	Arguments        []string // customHandler.description.arguments
	WorkingDirectory string   // customHandler.description.workingDirectory ("" = app dir)
	ForwardHTTP      bool     // customHandler.enableForwardingHttpRequest
	ProxyHTTP        bool     // customHandler.enableProxyingHttpRequest
	RoutePrefix      string   // extensions.http.routePrefix, default "api"
	BundleID         string   // extensionBundle.id ("" when absent)
	BundleVersion    string   // extensionBundle.version
	// Extensions holds extensions.<name> sections verbatim (e.g. "serviceBus",
	// "blobs") for trigger sources that want their settings.
	Extensions map[string]json.RawMessage
}

// parseHostJSON validates host.json.
func parseHostJSON(file string, data []byte) (*HostConfig, error) {
	root, err := decodeObject(file, data)
	if err != nil {
		return nil, err
	}
	o := obj{file: file, m: root}
	hc := &HostConfig{RoutePrefix: "api"}
	if hc.Version, err = o.str("version", true); err != nil {
		return nil, err
	}
	if hc.Version != "2.0" {
		return nil, o.errf("version", "must be \"2.0\", got %q", hc.Version)
	}
	ch, _, err := o.object("customHandler", true)
	if err != nil {
		return nil, err
	}
	desc, _, err := ch.object("description", true)
	if err != nil {
		return nil, err
	}
	if hc.ExecutablePath, err = desc.str("defaultExecutablePath", true); err != nil {
		return nil, err
	}
	if hc.WorkingDirectory, err = desc.str("workingDirectory", false); err != nil {
		return nil, err
	}
	if hc.Arguments, err = desc.strings("arguments"); err != nil {
		return nil, err
	}
	if hc.ForwardHTTP, _, err = ch.boolean("enableForwardingHttpRequest"); err != nil {
		return nil, err
	}
	if hc.ProxyHTTP, _, err = ch.boolean("enableProxyingHttpRequest"); err != nil {
		return nil, err
	}
	if b, ok, err := o.object("extensionBundle", false); err != nil {
		return nil, err
	} else if ok {
		if hc.BundleID, err = b.str("id", true); err != nil {
			return nil, err
		}
		if hc.BundleVersion, err = b.str("version", true); err != nil {
			return nil, err
		}
	}
	ext, ok, err := o.object("extensions", false)
	if err != nil {
		return nil, err
	}
	if ok {
		hc.Extensions = map[string]json.RawMessage{}
		for k, v := range ext.m {
			raw, _ := json.Marshal(v)
			hc.Extensions[k] = raw
		}
		if h, ok, err := ext.object("http", false); err != nil {
			return nil, err
		} else if ok {
			if p, present, err := h.strPresent("routePrefix"); err != nil {
				return nil, err
			} else if present {
				hc.RoutePrefix = strings.Trim(p, "/")
				if strings.ContainsAny(hc.RoutePrefix, "{}?*") {
					return nil, h.errf("routePrefix", "must be a plain path, got %q", p)
				}
			}
		}
	}
	return hc, nil
}
