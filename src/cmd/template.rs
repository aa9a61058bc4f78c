//! A small subset of Go's text/template, enough for Docker's `--format` habits:
//! `{{.Field.Sub}}`, `{{json .Field}}`, `{{.}}`, and literal text with `\t`/`\n` escapes.
//! Values print as Go prints them (`[a b]`, `map[k:v]`, `<no value>`).

use anyhow::{bail, Result};
use serde_json::Value;

/// Render `template` against `data`.
pub fn render(template: &str, data: &Value) -> Result<String> {
    let template = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("template: unclosed action in {template:?}");
        };
        let action = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push_str(&eval(action, data)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn eval(action: &str, data: &Value) -> Result<String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        [path] if path.starts_with('.') => Ok(go_string(lookup(data, path)?)),
        ["json", path] if path.starts_with('.') => Ok(serde_json::to_string(lookup(data, path)?)?),
        ["upper", path] => Ok(go_string(lookup(data, path)?).to_uppercase()),
        ["lower", path] => Ok(go_string(lookup(data, path)?).to_lowercase()),
        _ => bail!("template: unsupported action {{{{{action}}}}}"),
    }
}

fn lookup<'a>(data: &'a Value, path: &str) -> Result<&'a Value> {
    let mut v = data;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        v = match v {
            Value::Object(map) => match map.get(key) {
                Some(x) => x,
                None => bail!("template: can't evaluate field {key}"),
            },
            Value::Null => &Value::Null,
            _ => bail!("template: can't evaluate field {key} in a non-object"),
        };
    }
    Ok(v)
}

/// A value as Go's fmt prints it with `%v`.
fn go_string(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_string).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => format!(
            "map[{}]",
            map.iter()
                .map(|(k, v)| format!("{k}:{}", go_string(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_json_and_go_printing() {
        let data = json!({"State": {"Status": "running", "Pid": 42}, "Config": {"Env": ["A=1", "B=2"]}, "Name": "/web"});
        assert_eq!(render("{{.State.Status}}", &data).unwrap(), "running");
        assert_eq!(
            render("{{ .State.Pid }} {{.Name}}", &data).unwrap(),
            "42 /web"
        );
        assert_eq!(
            render("{{json .Config.Env}}", &data).unwrap(),
            "[\"A=1\",\"B=2\"]"
        );
        assert_eq!(render("{{.Config.Env}}", &data).unwrap(), "[A=1 B=2]");
        assert_eq!(render("id:\\t{{.Name}}", &data).unwrap(), "id:\t/web");
        assert!(render("{{.Nope}}", &data).is_err());
        assert!(render("{{.Name", &data).is_err());
    }
}
