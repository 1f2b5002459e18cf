//! Skills through the HTTP API: found in the workspace's skill folders and
//! the user's config folder, listed by `GET /skill` and `GET /command`,
//! offered to the model as the `skill` tool under the `skill` permission,
//! run as slash commands; and links planted to reach files outside lead
//! nowhere.

use crate::agent::{config, prompt_body};
use crate::router::TestServer;
use crate::scripted_model::{Chunk, Reply, ScriptedModel, says};
use crate::util::{Fixture, SECRET};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::os::unix::fs::symlink;

fn skill(name: &str, description: &str, body: &str) -> String {
    format!("---\nname: {name}\ndescription: {description}\n---\n{body}\n")
}

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn skills_are_listed_from_every_folder_and_offered_to_the_model() {
    let fixture = Fixture::new();
    fixture.file(".opencode/skill/release/SKILL.md", &skill("release", "Cut a release.", "1. Bump the version."));
    fixture.file(".opencode/skill/release/checklist.md", "- tag\n");
    fixture.file(".opencode/skills/nested/deeper/docs/SKILL.md", &skill("docs", "Write the docs.", "Use plain words."));
    fixture.file(".claude/skills/pdf/SKILL.md", &skill("pdf", "Fill PDF forms.", "Use the form tool."));
    fixture.file(".agents/skills/broken/SKILL.md", "no front matter here");
    fixture.file(".opencode/skill/Bad_Name/SKILL.md", &skill("Bad_Name", "Not a valid name.", "x"));
    let config_home = tempfile::tempdir().unwrap();
    let global = config_home.path().join("opencode/skills/mine");
    std::fs::create_dir_all(&global).unwrap();
    std::fs::write(global.join("SKILL.md"), skill("mine", "The user's own.", "From the config folder.")).unwrap();

    let model = ScriptedModel::start(vec![
        Reply::Stream(vec![Chunk::Call("c1", "skill", json!({ "name": "release" }))]),
        says("Loaded."),
        Reply::Stream(vec![Chunk::Call("c2", "skill", json!({ "name": "nope" }))]),
        says("No such skill."),
        says("Ran the skill."),
    ])
    .await;
    let xdg = config_home.path().to_str().unwrap();
    let server = TestServer::with_environment(&fixture.ws, &config(&model, json!({})), &[("XDG_CONFIG_HOME", xdg)]);

    let (status, skills) = server.get("/skill").await;
    assert_eq!(status, StatusCode::OK, "{skills}");
    assert_eq!(names(&skills), ["docs", "mine", "pdf", "release"]);
    let release = skills.as_array().unwrap().iter().find(|s| s["name"] == "release").unwrap();
    assert_eq!(release["content"], "1. Bump the version.");
    assert_eq!(release["description"], "Cut a release.");
    assert_eq!(release["location"], fixture.ws.join(".opencode/skill/release/SKILL.md").display().to_string());

    let (_, commands) = server.get("/command").await;
    let as_command = commands.as_array().unwrap().iter().find(|c| c["name"] == "pdf").unwrap();
    assert_eq!(as_command["source"], "skill");
    assert_eq!(as_command["template"], "Use the form tool.");

    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("release it")).await;
    let tools = model.requests()[0]["tools"].as_array().unwrap().clone();
    let offered = tools.iter().find(|t| t["function"]["name"] == "skill").expect("the skill tool is offered");
    let description = offered["function"]["description"].as_str().unwrap();
    assert!(description.contains("<name>release</name>") && description.contains("Fill PDF forms."), "{description}");
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let part = messages[1]["parts"].as_array().unwrap().iter().find(|p| p["type"] == "tool").unwrap().clone();
    assert_eq!(part["state"]["status"], "completed", "{part}");
    assert_eq!(part["state"]["title"], "Loaded skill: release");
    let output = part["state"]["output"].as_str().unwrap();
    assert!(output.contains("1. Bump the version.") && output.contains("<skill_content name=\"release\">"), "{output}");
    let checklist = fixture.ws.join(".opencode/skill/release/checklist.md");
    assert!(output.contains(&format!("<file>{}</file>", checklist.display())), "{output}");

    server.post(&format!("/session/{id}/message"), &prompt_body("use nope")).await;
    let (_, messages) = server.get(&format!("/session/{id}/message")).await;
    let failed = messages
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["parts"].as_array().unwrap().clone())
        .find(|p| p["callID"] == "c2")
        .unwrap();
    assert_eq!(failed["state"]["status"], "error");
    assert!(failed["state"]["error"].as_str().unwrap().contains("release"), "{failed}");

    // A skill runs as a slash command: its instructions, then what was typed.
    server.post(&format!("/session/{id}/command"), r#"{"command":"docs","arguments":"for the API"}"#).await;
    let last = model.requests().last().unwrap()["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    assert_eq!(last, "Use plain words.\n\nfor the API");
}

#[tokio::test]
async fn a_denied_skill_is_not_offered_and_no_skills_means_no_tool() {
    let fixture = Fixture::new();
    fixture.file(".opencode/skill/secret/SKILL.md", &skill("secret", "Never for the model.", "x"));
    let model = ScriptedModel::start(vec![says("A."), says("B.")]).await;
    let denied = json!({ "permission": { "skill": { "secret": "deny" } } });
    let server = TestServer::configured(&fixture.ws, &config(&model, denied));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    let offered = |n: usize| -> Vec<String> {
        model.requests()[n]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!offered(0).contains(&"skill".to_string()), "{:?}", offered(0));
    std::fs::remove_dir_all(fixture.ws.join(".opencode")).unwrap();
    let server = TestServer::configured(&fixture.ws, &config(&model, json!({})));
    let id = server.session().await;
    server.post(&format!("/session/{id}/message"), &prompt_body("hi")).await;
    assert!(!offered(1).contains(&"skill".to_string()));
    assert_eq!(server.get("/skill").await.1, json!([]));
}

#[tokio::test]
async fn links_planted_in_skill_folders_lead_nowhere() {
    let fixture = Fixture::new();
    let outside = fixture.outside.parent().unwrap().join("outside-skill");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("SKILL.md"), skill("stolen", "Outside the workspace.", SECRET)).unwrap();
    std::fs::create_dir_all(fixture.ws.join(".opencode/skills/file-link")).unwrap();
    // A skill folder that is a link out, and a SKILL.md that is one.
    symlink(&outside, fixture.ws.join(".opencode/skills/folder-link")).unwrap();
    symlink(outside.join("SKILL.md"), fixture.ws.join(".opencode/skills/file-link/SKILL.md")).unwrap();
    // A skills folder reached through a link out.
    let beside = fixture.outside.parent().unwrap();
    std::fs::create_dir_all(beside.join("skills/stolen-too")).unwrap();
    std::fs::write(beside.join("skills/stolen-too/SKILL.md"), skill("stolen-too", "Outside.", SECRET)).unwrap();
    symlink(beside, fixture.ws.join(".claude")).unwrap();
    let server = TestServer::new(&fixture.ws, None);
    let (status, skills) = server.get("/skill").await;
    assert_eq!((status, &skills), (StatusCode::OK, &json!([])), "{skills}");
    let (_, commands) = server.get("/command").await;
    assert!(!commands.to_string().contains(SECRET));
}
