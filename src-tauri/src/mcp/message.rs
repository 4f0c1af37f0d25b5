//! JSON-RPC as the bridge needs it: which messages are requests (and so get an error answer
//! when the server can't be reached), the errors it writes, and what `initialize` settles.

use serde_json::{json, Value};

/// JSON-RPC: the line is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: not a request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The bridge's own errors (server unreachable, refused, no account): the implementation
/// range of JSON-RPC server errors.
pub const BRIDGE_ERROR: i64 = -32000;

/// The answer to a line that is not JSON.
pub fn parse_error(detail: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": PARSE_ERROR, "message": format!("Latchkey's MCP bridge got a line that is not JSON ({detail}); each line on stdin must be one JSON-RPC message.")}})
}

/// True for a request: a `method` and an `id`.
pub fn is_request(m: &Value) -> bool {
    m.get("method").is_some() && m.get("id").is_some_and(|i| !i.is_null())
}

/// True for a notification: a `method` and no `id`.
pub fn is_notification(m: &Value) -> bool {
    m.get("method").is_some() && m.get("id").is_none()
}

/// True for the `initialize` request (alone or in a batch).
pub fn is_initialize(m: &Value) -> bool {
    match m {
        Value::Array(items) => items.iter().any(is_initialize),
        _ => m.get("method").and_then(Value::as_str) == Some("initialize") && is_request(m),
    }
}

/// Error answers for every request in `m` (one message or a batch); nothing for
/// notifications and answers, which have nobody waiting.
pub fn errors_for(m: &Value, code: i64, message: &str) -> Vec<Value> {
    let one = |r: &Value| {
        is_request(r).then(|| {
            json!({"jsonrpc": "2.0", "id": r["id"].clone(), "error": {"code": code, "message": message}})
        })
    };
    match m {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        _ => one(m).into_iter().collect(),
    }
}

/// The protocol version an `initialize` answer settled on.
pub fn protocol_version(answer: &Value) -> Option<String> {
    let pick = |a: &Value| {
        a.get("result")?
            .get("protocolVersion")?
            .as_str()
            .filter(|v| v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_string)
    };
    match answer {
        Value::Array(items) => items.iter().find_map(pick),
        _ => pick(answer),
    }
}

/// A message is one JSON object or a non-empty array of them.
pub fn check_shape(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Object(_) => Ok(()),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => Ok(()),
        _ => Err("a JSON-RPC message is an object, or a batch of objects"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_get_error_answers() {
        let req = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call"});
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let answer = json!({"jsonrpc": "2.0", "id": 9, "result": {}});
        assert!(is_request(&req) && !is_request(&note) && !is_request(&answer));
        assert!(is_notification(&note));
        let e = errors_for(&req, BRIDGE_ERROR, "down");
        assert_eq!(
            e,
            vec![json!({"jsonrpc": "2.0", "id": 4, "error": {"code": -32000, "message": "down"}})]
        );
        assert!(errors_for(&note, BRIDGE_ERROR, "down").is_empty());
        assert!(errors_for(&answer, BRIDGE_ERROR, "down").is_empty());
        let batch = json!([req, note, {"jsonrpc": "2.0", "id": "b", "method": "ping"}]);
        let ids: Vec<Value> = errors_for(&batch, BRIDGE_ERROR, "x")
            .iter()
            .map(|e| e["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(4), json!("b")]);
    }

    #[test]
    fn initialize_settles_the_protocol_version() {
        assert!(is_initialize(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}})
        ));
        assert!(!is_initialize(
            &json!({"jsonrpc": "2.0", "method": "initialize"})
        ));
        let a = json!({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-06-18"}});
        assert_eq!(protocol_version(&a).as_deref(), Some("2025-06-18"));
        let bad =
            json!({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025\r\nX-Evil: 1"}});
        assert_eq!(protocol_version(&bad), None, "never a header injection");
        assert!(check_shape(&json!(3)).is_err() && check_shape(&json!([])).is_err());
        assert!(check_shape(&json!([{}])).is_ok());
    }
}
