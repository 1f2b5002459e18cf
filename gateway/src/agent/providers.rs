//! The providers and models a server offers: read from the config file's
//! `provider` key (opencode.json's format) and detected from the
//! environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`,
//! `ANTHROPIC_BASE_URL`).
//!
//! A provider speaks one of the two protocols of [`super::provider`], chosen
//! by its `npm` package as OpenCode names it (`@ai-sdk/anthropic` is
//! Anthropic, everything else chat completions). Providers whose models are
//! not listed (an `OPENAI_BASE_URL` pointing at a local server, a config
//! entry without `models`) have them discovered from `GET {base}/models` in
//! the background after start, so the TUI's model picker fills in without
//! delaying the listening line.
//!
//! API keys never leave this module: the catalogue the API serves shows
//! options with keys redacted.

use super::provider::anthropic::Anthropic;
use super::provider::openai::OpenAi;
use super::provider::{ChatRequest, EventStream, ProviderError};
use crate::config::{Config, substitute_env};
use serde_json::{Map, Value, json};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long discovering a provider's models may take before it is given up.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most models kept from one provider's listing.
const MAX_DISCOVERED: usize = 200;

/// What `options.apiKey` and friends are shown as.
pub const REDACTED: &str = "[redacted]";

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI's chat completions.
    OpenAi,
    /// Anthropic's Messages.
    Anthropic,
}

/// A provider: where it is, how to authenticate, which models it has.
/// (`Debug` leaves the key and the headers out.)
#[derive(Clone)]
pub struct Provider {
    pub id: String,
    pub name: String,
    /// `"config"` or `"env"`, as the reference reports it.
    pub source: &'static str,
    /// The environment variables that can hold its key.
    pub env: Vec<String>,
    pub protocol: Protocol,
    /// The npm package OpenCode would load for it.
    pub npm: String,
    pub base_url: String,
    api_key: Option<String>,
    headers: Vec<(String, String)>,
    /// The config's options, keys redacted, as `GET /provider` shows them.
    options: Map<String, Value>,
    pub models: Vec<Model>,
    /// Whether to list its models from `GET {base}/models` at start.
    discover: bool,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("protocol", &self.protocol)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("headers", &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("models", &self.models.len())
            .finish_non_exhaustive()
    }
}

/// A model and what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The id clients name it by.
    pub id: String,
    /// The id the provider's API knows it by.
    pub api_id: String,
    pub name: String,
    pub family: String,
    pub reasoning: bool,
    pub tool_call: bool,
    pub attachment: bool,
    pub temperature: bool,
    /// Context window, in tokens.
    pub context: u64,
    /// The most output tokens, when the config sets it.
    pub output: Option<u64>,
    /// Dollars per million tokens.
    pub cost: Cost,
    /// Provider options sent with every request to this model.
    pub options: Map<String, Value>,
    headers: Map<String, Value>,
    variants: Value,
    release_date: String,
}

/// A model's price in dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

impl Cost {
    /// What `usage` cost.
    pub fn of(&self, usage: &super::provider::Usage) -> f64 {
        (usage.input as f64 * self.input
            + (usage.output + usage.reasoning) as f64 * self.output
            + usage.cache_read as f64 * self.cache_read
            + usage.cache_write as f64 * self.cache_write)
            / 1_000_000.0
    }
}

impl Model {
    /// A model known only by its id: a provider's model the catalogue does
    /// not list is still used as asked.
    pub(crate) fn named(id: &str) -> Self {
        Model {
            id: id.to_string(),
            api_id: id.to_string(),
            name: id.to_string(),
            family: String::new(),
            reasoning: false,
            tool_call: true,
            attachment: false,
            temperature: true,
            context: 128_000,
            output: None,
            cost: Cost::default(),
            options: Map::new(),
            headers: Map::new(),
            variants: json!({}),
            release_date: String::new(),
        }
    }

    fn from_config(id: &str, entry: &Value) -> Self {
        let mut model = Model::named(id);
        let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
        let flag = |key: &str| entry.get(key).and_then(Value::as_bool);
        let number = |pointer: &str| entry.pointer(pointer).and_then(Value::as_f64);
        model.api_id = text("id").unwrap_or(model.api_id);
        model.name = text("name").unwrap_or(model.name);
        model.family = text("family").unwrap_or_default();
        model.reasoning = flag("reasoning").unwrap_or(false);
        model.tool_call = flag("tool_call").unwrap_or(true);
        model.attachment = flag("attachment").unwrap_or(false);
        model.temperature = flag("temperature").unwrap_or(true);
        model.context = number("/limit/context").map(|n| n as u64).unwrap_or(model.context);
        model.output = number("/limit/output").map(|n| n as u64);
        model.cost = Cost {
            input: number("/cost/input").unwrap_or(0.0),
            output: number("/cost/output").unwrap_or(0.0),
            cache_read: number("/cost/cache_read").unwrap_or(0.0),
            cache_write: number("/cost/cache_write").unwrap_or(0.0),
        };
        model.options = entry.get("options").and_then(Value::as_object).cloned().unwrap_or_default();
        model.headers = entry.get("headers").and_then(Value::as_object).cloned().unwrap_or_default();
        model.variants = entry.get("variants").cloned().unwrap_or_else(|| json!({}));
        model.release_date = text("release_date").unwrap_or_default();
        model
    }

    /// The model in the reference's `Model` shape.
    fn to_json(&self, provider: &Provider) -> Value {
        let io = |text: bool, image: bool| json!({ "text": text, "audio": false, "image": image, "video": false, "pdf": false });
        json!({
            "id": self.id,
            "providerID": provider.id,
            "api": { "id": self.api_id, "url": provider.base_url, "npm": provider.npm },
            "name": self.name,
            "family": self.family,
            "capabilities": {
                "temperature": self.temperature,
                "reasoning": self.reasoning,
                "attachment": self.attachment,
                "toolcall": self.tool_call,
                "input": io(true, self.attachment),
                "output": io(true, false),
                "interleaved": false,
            },
            "cost": {
                "input": self.cost.input,
                "output": self.cost.output,
                "cache": { "read": self.cost.cache_read, "write": self.cost.cache_write },
            },
            "limit": { "context": self.context, "output": self.output.unwrap_or(32_000) },
            "status": "active",
            "options": self.options,
            "headers": self.headers,
            "release_date": self.release_date,
            "variants": self.variants,
        })
    }
}

impl Provider {
    /// The provider in the reference's `Provider` shape, keys redacted.
    pub fn to_json(&self) -> Value {
        let models: Map<String, Value> = self.models.iter().map(|m| (m.id.clone(), m.to_json(self))).collect();
        json!({
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "env": self.env,
            "options": self.options,
            "models": models,
        })
    }

    /// A model by id; one the catalogue does not list is used as named.
    pub fn model(&self, id: &str) -> Model {
        self.models.iter().find(|m| m.id == id).cloned().unwrap_or_else(|| Model::named(id))
    }

    /// A client for this provider.
    pub fn client(&self, http: &reqwest::Client) -> Client {
        let headers = self.headers.clone();
        match self.protocol {
            Protocol::OpenAi => {
                Client::OpenAi(OpenAi::new(http.clone(), &self.base_url, self.api_key.clone(), headers))
            }
            Protocol::Anthropic => {
                Client::Anthropic(Anthropic::new(http.clone(), &self.base_url, self.api_key.clone(), headers))
            }
        }
    }
}

/// A client of one provider, whichever protocol it speaks.
pub enum Client {
    OpenAi(OpenAi),
    Anthropic(Anthropic),
}

impl Client {
    /// Starts a streamed model call.
    pub async fn stream(&self, request: &ChatRequest) -> Result<EventStream, ProviderError> {
        match self {
            Client::OpenAi(client) => client.stream(request).await,
            Client::Anthropic(client) => client.stream(request).await,
        }
    }

    async fn models(&self) -> Result<Vec<String>, ProviderError> {
        match self {
            Client::OpenAi(client) => client.models().await,
            Client::Anthropic(client) => client.models().await,
        }
    }
}

/// Every provider the server offers. Cheap to read; discovery swaps in a
/// new list.
pub struct Providers {
    http: reqwest::Client,
    list: RwLock<Arc<Vec<Provider>>>,
    /// The config's `model`, as `(provider, model)`.
    default_model: Option<(String, String)>,
    /// The config's `small_model` (titles), as `(provider, model)`.
    small_model: Option<(String, String)>,
}

impl Providers {
    /// The providers of `config` and of the environment `env` reads.
    pub fn new(config: &Config, env: impl Fn(&str) -> Option<String>) -> Self {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut list: Vec<Provider> = Vec::new();
        if let Some(Value::Object(configured)) = config.get("provider") {
            for (id, entry) in configured {
                list.push(from_config(id, entry, &env));
            }
        }
        for detected in from_environment(&env) {
            match list.iter_mut().find(|p| p.id == detected.id) {
                // A config entry wins, but takes the key from the environment.
                Some(existing) => {
                    if existing.api_key.is_none() {
                        existing.api_key = detected.api_key;
                    }
                }
                None => list.push(detected),
            }
        }
        let names = |key: &str| -> Option<Vec<String>> {
            let values = config.get(key)?.as_array()?;
            Some(values.iter().filter_map(Value::as_str).map(str::to_string).collect())
        };
        if let Some(enabled) = names("enabled_providers") {
            list.retain(|p| enabled.contains(&p.id));
        }
        if let Some(disabled) = names("disabled_providers") {
            list.retain(|p| !disabled.contains(&p.id));
        }
        let pair = |key: &str| {
            let text = config.get(key)?.as_str()?;
            let (provider, model) = text.split_once('/')?;
            Some((provider.to_string(), model.to_string()))
        };
        // The configured default is listed even when its provider's catalogue
        // does not name it (models discovered later, or not at all).
        for (provider, model) in [pair("model"), pair("small_model")].into_iter().flatten() {
            if let Some(entry) = list.iter_mut().find(|p| p.id == provider)
                && !entry.models.iter().any(|m| m.id == model)
            {
                entry.models.push(Model::named(&model));
            }
        }
        Self {
            http: super::provider::http_client(),
            list: RwLock::new(Arc::new(list)),
            default_model: pair("model"),
            small_model: pair("small_model"),
        }
    }

    /// The providers now.
    pub fn all(&self) -> Arc<Vec<Provider>> {
        self.list.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A provider by id.
    pub fn get(&self, id: &str) -> Option<Provider> {
        self.all().iter().find(|p| p.id == id).cloned()
    }

    /// Provider `id` reached with `key`, a key its owner set (`PUT
    /// /auth/{id}`): the configured provider with that key, or, for one the
    /// server does not configure, the official provider of that id (OpenAI,
    /// Anthropic) at its official address. Without a key, the provider as
    /// configured.
    pub fn with_key(&self, id: &str, key: Option<String>) -> Option<Provider> {
        let Some(key) = key else { return self.get(id) };
        let mut provider = self.get(id).or_else(|| connectable(id))?;
        provider.api_key = Some(key);
        provider.source = "api";
        Some(provider)
    }

    /// The providers as an owner who set keys for `keyed` sees them: the
    /// server's, and the official ones it connected itself.
    pub fn seen_with(&self, keyed: &[String]) -> Vec<Provider> {
        let mut all = (*self.all()).clone();
        for id in keyed {
            match all.iter_mut().find(|p| p.id == *id) {
                Some(provider) => provider.source = "api",
                None => all.extend(connectable(id)),
            }
        }
        all
    }

    /// The catalogue's providers none of `seen` is (what the TUI's
    /// `/connect` offers to connect with a key).
    pub fn connectable_besides(seen: &[Provider]) -> Vec<Provider> {
        OFFICIAL.iter().filter(|o| !seen.iter().any(|p| p.id == o.id)).map(|o| o.provider(None, None)).collect()
    }

    /// The HTTP client providers share.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The model used when neither the prompt, the session nor the agent
    /// names one: the config's `model`, else the first provider's first model.
    pub fn default_model(&self) -> Option<(String, String)> {
        if let Some(model) = &self.default_model {
            return Some(model.clone());
        }
        let all = self.all();
        let provider = all.iter().find(|p| !p.models.is_empty())?;
        Some((provider.id.clone(), provider.models[0].id.clone()))
    }

    /// The model that writes session titles: `small_model`, else `fallback`.
    pub fn small_model(&self, fallback: (String, String)) -> (String, String) {
        self.small_model.clone().filter(|(p, _)| self.get(p).is_some()).unwrap_or(fallback)
    }

    /// `GET /config/providers`'s `default`: each provider's default model.
    pub fn defaults(&self) -> Map<String, Value> {
        self.all()
            .iter()
            .filter_map(|provider| {
                let model = match &self.default_model {
                    Some((p, m)) if *p == provider.id => m.clone(),
                    _ => provider.models.first()?.id.clone(),
                };
                Some((provider.id.clone(), Value::String(model)))
            })
            .collect()
    }

    /// Lists the models of providers that did not name theirs, from
    /// `GET {base}/models`. A provider that does not answer keeps an empty
    /// list (its models can still be used by name).
    pub async fn discover(&self) {
        let pending: Vec<Provider> = self.all().iter().filter(|p| p.discover).cloned().collect();
        for provider in pending {
            let client = provider.client(&self.http);
            let found = match tokio::time::timeout(DISCOVERY_TIMEOUT, client.models()).await {
                Ok(Ok(ids)) => ids,
                Ok(Err(error)) => {
                    tracing::warn!(provider = provider.id, "cannot list the provider's models: {error}");
                    continue;
                }
                Err(_) => {
                    tracing::warn!(provider = provider.id, "listing the provider's models timed out");
                    continue;
                }
            };
            let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
            let mut updated = (**list).clone();
            if let Some(entry) = updated.iter_mut().find(|p| p.id == provider.id) {
                for id in found.into_iter().take(MAX_DISCOVERED) {
                    if !entry.models.iter().any(|m| m.id == id) {
                        entry.models.push(Model::named(&id));
                    }
                }
                entry.discover = false;
            }
            *list = Arc::new(updated);
        }
    }
}

fn from_config(id: &str, entry: &Value, env: &impl Fn(&str) -> Option<String>) -> Provider {
    let options = entry.get("options").and_then(Value::as_object).cloned().unwrap_or_default();
    let text = |key: &str| options.get(key).and_then(Value::as_str).map(|v| substitute_env(v, env));
    let npm = entry.get("npm").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| match id {
        "anthropic" => "@ai-sdk/anthropic".into(),
        "openai" => "@ai-sdk/openai".into(),
        _ => "@ai-sdk/openai-compatible".into(),
    });
    let protocol = if npm.contains("anthropic") { Protocol::Anthropic } else { Protocol::OpenAi };
    let variables: Vec<String> = entry
        .get("env")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let api_key = text("apiKey").filter(|k| !k.is_empty()).or_else(|| variables.iter().find_map(|v| env(v)));
    let default_url = match protocol {
        Protocol::Anthropic => "https://api.anthropic.com/v1",
        Protocol::OpenAi if id == "openai" => "https://api.openai.com/v1",
        Protocol::OpenAi => "",
    };
    let base_url = text("baseURL").unwrap_or_else(|| default_url.to_string());
    let headers = options
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| h.iter().filter_map(|(k, v)| Some((k.clone(), substitute_env(v.as_str()?, env)))).collect())
        .unwrap_or_default();
    let models: Vec<Model> = entry
        .get("models")
        .and_then(Value::as_object)
        .map(|models| models.iter().map(|(model_id, m)| Model::from_config(model_id, m)).collect())
        .unwrap_or_default();
    let mut shown = options.clone();
    redact(&mut shown);
    Provider {
        id: id.to_string(),
        name: entry.get("name").and_then(Value::as_str).unwrap_or(id).to_string(),
        source: "config",
        env: variables,
        protocol,
        npm,
        discover: models.is_empty() && !base_url.is_empty(),
        base_url,
        api_key,
        headers,
        options: shown,
        models,
    }
}

/// Hides the secrets of a provider's `options` (its key, its headers) before
/// they are served.
pub fn redact(options: &mut Map<String, Value>) {
    if options.contains_key("apiKey") {
        options.insert("apiKey".into(), json!(REDACTED));
    }
    if let Some(Value::Object(headers)) = options.get_mut("headers") {
        headers.values_mut().for_each(|v| *v = json!(REDACTED));
    }
}

/// A provider the environment can name, or someone can connect with a key
/// alone (the TUI's `/connect`), in models.dev's ids and names.
struct Official {
    id: &'static str,
    name: &'static str,
    protocol: Protocol,
    npm: &'static str,
    base_url: &'static str,
    /// The environment variable that holds its key.
    env: &'static str,
    /// The models offered with the official base URL: `(id, name, context)`.
    models: &'static [(&'static str, &'static str, u64)],
}

/// The providers someone can connect with a key alone: the catalogue the
/// TUI's `/connect` lists (`GET /provider`'s `all`).
const OFFICIAL: [Official; 9] = [OPENAI, ANTHROPIC, OPENROUTER, GROQ, DEEPSEEK, MISTRAL, XAI, TOGETHER, FIREWORKS];

/// An OpenAI-compatible service of the catalogue.
const fn compatible(
    id: &'static str,
    name: &'static str,
    base_url: &'static str,
    env: &'static str,
    models: &'static [(&'static str, &'static str, u64)],
) -> Official {
    Official { id, name, protocol: Protocol::OpenAi, npm: "@ai-sdk/openai-compatible", base_url, env, models }
}

const OPENROUTER: Official = compatible(
    "openrouter",
    "OpenRouter",
    "https://openrouter.ai/api/v1",
    "OPENROUTER_API_KEY",
    &[
        ("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", 1_000_000),
        ("openai/gpt-5", "GPT-5", 400_000),
        ("google/gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576),
        ("qwen/qwen3-coder", "Qwen3 Coder", 262_144),
        ("moonshotai/kimi-k2", "Kimi K2", 131_072),
    ],
);
const GROQ: Official = compatible(
    "groq",
    "Groq",
    "https://api.groq.com/openai/v1",
    "GROQ_API_KEY",
    &[
        ("openai/gpt-oss-120b", "GPT OSS 120B", 131_072),
        ("moonshotai/kimi-k2-instruct-0905", "Kimi K2 0905", 262_144),
        ("llama-3.3-70b-versatile", "Llama 3.3 70B Versatile", 131_072),
    ],
);
const DEEPSEEK: Official = compatible(
    "deepseek",
    "DeepSeek",
    "https://api.deepseek.com/v1",
    "DEEPSEEK_API_KEY",
    &[("deepseek-chat", "DeepSeek Chat", 128_000), ("deepseek-reasoner", "DeepSeek Reasoner", 128_000)],
);
const MISTRAL: Official = compatible(
    "mistral",
    "Mistral",
    "https://api.mistral.ai/v1",
    "MISTRAL_API_KEY",
    &[
        ("devstral-medium-latest", "Devstral Medium", 128_000),
        ("codestral-latest", "Codestral", 256_000),
        ("mistral-large-latest", "Mistral Large", 131_072),
    ],
);
const XAI: Official = compatible(
    "xai",
    "xAI",
    "https://api.x.ai/v1",
    "XAI_API_KEY",
    &[("grok-code-fast-1", "Grok Code Fast 1", 256_000), ("grok-4", "Grok 4", 256_000)],
);
const TOGETHER: Official = compatible(
    "togetherai",
    "Together AI",
    "https://api.together.xyz/v1",
    "TOGETHER_AI_API_KEY",
    &[
        ("Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "Qwen3 Coder 480B", 262_144),
        ("moonshotai/Kimi-K2-Instruct", "Kimi K2 Instruct", 131_072),
        ("deepseek-ai/DeepSeek-V3", "DeepSeek V3", 131_072),
    ],
);
const FIREWORKS: Official = compatible(
    "fireworks-ai",
    "Fireworks AI",
    "https://api.fireworks.ai/inference/v1",
    "FIREWORKS_API_KEY",
    &[
        ("accounts/fireworks/models/qwen3-coder-480b-a35b-instruct", "Qwen3 Coder 480B", 262_144),
        ("accounts/fireworks/models/kimi-k2-instruct", "Kimi K2 Instruct", 128_000),
        ("accounts/fireworks/models/deepseek-v3p1", "DeepSeek V3.1", 163_840),
    ],
);

/// The official provider `id`, at its official address, as connected
/// through `PUT /auth/{id}` (its key still to be given).
fn connectable(id: &str) -> Option<Provider> {
    let mut provider = OFFICIAL.iter().find(|o| o.id == id)?.provider(None, None);
    provider.source = "api";
    Some(provider)
}

const OPENAI: Official = Official {
    id: "openai",
    name: "OpenAI",
    protocol: Protocol::OpenAi,
    npm: "@ai-sdk/openai",
    base_url: "https://api.openai.com/v1",
    env: "OPENAI_API_KEY",
    models: &[
        ("gpt-4.1", "GPT-4.1", 1_047_576),
        ("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576),
        ("gpt-4o", "GPT-4o", 128_000),
        ("gpt-4o-mini", "GPT-4o mini", 128_000),
        ("o4-mini", "o4-mini", 200_000),
    ],
};

const ANTHROPIC: Official = Official {
    id: "anthropic",
    name: "Anthropic",
    protocol: Protocol::Anthropic,
    npm: "@ai-sdk/anthropic",
    base_url: "https://api.anthropic.com/v1",
    env: "ANTHROPIC_API_KEY",
    models: &[
        ("claude-sonnet-4-5", "Claude Sonnet 4.5", 200_000),
        ("claude-opus-4-1", "Claude Opus 4.1", 200_000),
        ("claude-haiku-4-5", "Claude Haiku 4.5", 200_000),
    ],
};

impl Official {
    /// The provider with `key`, at `url` (its models then discovered) or at
    /// the official URL with the known models.
    fn provider(&self, key: Option<String>, url: Option<String>) -> Provider {
        let custom = url.is_some();
        let models = if custom {
            Vec::new()
        } else {
            let known = |(id, name, context): &(&str, &str, u64)| Model {
                name: name.to_string(),
                context: *context,
                ..Model::named(id)
            };
            self.models.iter().map(known).collect()
        };
        Provider {
            id: self.id.into(),
            name: self.name.into(),
            source: "env",
            env: vec![self.env.into()],
            protocol: self.protocol,
            npm: self.npm.into(),
            base_url: url.unwrap_or_else(|| self.base_url.into()),
            api_key: key,
            headers: Vec::new(),
            options: Map::new(),
            models,
            discover: custom,
        }
    }
}

/// Providers the environment describes.
fn from_environment(env: &impl Fn(&str) -> Option<String>) -> Vec<Provider> {
    let mut found = Vec::new();
    let (openai_key, openai_url) = (env("OPENAI_API_KEY"), env("OPENAI_BASE_URL"));
    if openai_key.is_some() || openai_url.is_some() {
        let mut openai = OPENAI.provider(openai_key, openai_url);
        if openai.discover {
            (openai.name, openai.npm) = ("OpenAI-compatible".into(), "@ai-sdk/openai-compatible".into());
        }
        found.push(openai);
    }
    if let Some(key) = env("ANTHROPIC_API_KEY") {
        found.push(ANTHROPIC.provider(Some(key), env("ANTHROPIC_BASE_URL").map(|u| anthropic_base(&u))));
    }
    // The rest of the catalogue, by its key alone.
    for official in OFFICIAL.iter().filter(|o| !matches!(o.id, "openai" | "anthropic")) {
        if let Some(key) = env(official.env) {
            found.push(official.provider(Some(key), None));
        }
    }
    found
}

/// `ANTHROPIC_BASE_URL` is the API's root (the SDKs add `/v1`).
fn anthropic_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/v1") { url.to_string() } else { format!("{url}/v1") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn config_providers_pick_their_protocol_and_hide_their_keys() {
        let config = Config::parse(
            r#"{"provider": {
                "local": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "http://127.0.0.1:1/v1", "apiKey": "{env:LOCAL_KEY}"},
                          "models": {"m1": {"name": "Model One", "limit": {"context": 1000, "output": 100}, "cost": {"input": 3, "output": 15}}}},
                "claude": {"npm": "@ai-sdk/anthropic", "options": {"apiKey": "sk-ant-secret"}, "models": {"c": {}}}
            }, "model": "local/m1"}"#,
            Path::new("."),
        )
        .unwrap();
        let providers = Providers::new(&config, env(&[("LOCAL_KEY", "sk-local-secret")]));
        let local = providers.get("local").unwrap();
        assert_eq!(local.protocol, Protocol::OpenAi);
        assert_eq!(local.api_key.as_deref(), Some("sk-local-secret"));
        assert_eq!(local.models[0].output, Some(100));
        assert_eq!(providers.get("claude").unwrap().protocol, Protocol::Anthropic);
        assert_eq!(providers.default_model(), Some(("local".into(), "m1".into())));
        let shown = serde_json::to_string(&providers.all().iter().map(Provider::to_json).collect::<Vec<_>>()).unwrap();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!local.discover, "listed models are not discovered");
    }

    #[test]
    fn the_environment_adds_providers_and_keys() {
        let providers = Providers::new(
            &Config::default(),
            env(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"), ("ANTHROPIC_API_KEY", "k")]),
        );
        let openai = providers.get("openai").unwrap();
        assert_eq!(openai.base_url, "http://127.0.0.1:11434/v1");
        assert!(openai.discover, "a custom base URL's models are discovered");
        let anthropic = providers.get("anthropic").unwrap();
        assert_eq!(anthropic.protocol, Protocol::Anthropic);
        assert_eq!(providers.default_model(), Some(("anthropic".into(), "claude-sonnet-4-5".into())));
    }

    #[test]
    fn the_catalogue_offers_what_is_not_connected_and_a_key_connects_it() {
        let providers = Providers::new(&Config::default(), env(&[("GROQ_API_KEY", "gsk")]));
        let groq = providers.get("groq").expect("a catalogue provider's key in the environment connects it");
        assert_eq!((groq.base_url.as_str(), groq.protocol), ("https://api.groq.com/openai/v1", Protocol::OpenAi));
        assert!(!groq.models.is_empty());
        let offered = Providers::connectable_besides(&providers.all());
        let ids: Vec<&str> = offered.iter().map(|p| p.id.as_str()).collect();
        assert!(!ids.contains(&"groq"), "a connected provider is not offered again");
        for id in ["openai", "anthropic", "openrouter", "deepseek", "mistral", "xai", "togetherai", "fireworks-ai"] {
            assert!(ids.contains(&id), "{id} is offered");
        }
        assert!(offered.iter().all(|p| p.api_key.is_none() && !p.models.is_empty()));
        let connected = providers.with_key("deepseek", Some("k".into())).unwrap();
        assert_eq!((connected.source, connected.base_url.as_str()), ("api", "https://api.deepseek.com/v1"));
    }

    #[test]
    fn the_configured_default_model_is_always_listed() {
        let config = Config::parse(r#"{"model": "openai/qwen-coder"}"#, Path::new(".")).unwrap();
        let providers = Providers::new(&config, env(&[("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")]));
        let openai = providers.get("openai").unwrap();
        assert_eq!(openai.models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ["qwen-coder"]);
        assert_eq!(providers.defaults()["openai"], "qwen-coder");
    }

    #[test]
    fn unknown_models_of_a_known_provider_are_used_as_named() {
        let providers = Providers::new(&Config::default(), env(&[("OPENAI_API_KEY", "k")]));
        let model = providers.get("openai").unwrap().model("gpt-9");
        assert_eq!(model.api_id, "gpt-9");
    }

    #[test]
    fn env_references_are_substituted() {
        use crate::config::substitute_env as substitute;
        let vars = env(&[("A", "1")]);
        assert_eq!(substitute("x{env:A}y{env:B}z", &vars), "x1yz");
        assert_eq!(substitute("open {env:A", &vars), "open {env:A");
    }

    #[test]
    fn debug_output_leaves_the_key_out() {
        let key = |name: &str| (name == "OPENAI_API_KEY").then(|| "sk-secret-456".to_string());
        let providers = Providers::new(&Config::default(), key);
        assert!(!providers.all().is_empty(), "the key made a provider");
        let shown = format!("{:?}", providers.all());
        assert!(shown.contains("<redacted>") && !shown.contains("sk-secret-456"), "{shown}");
    }
}
