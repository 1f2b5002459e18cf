//! HTML as the model reads it best: Markdown (as the reference's
//! turndown settings write it: `#` headings, `-` bullets, fenced code,
//! `---` rules) or plain text, with scripts, styles and embedded objects
//! left out.

use htmd::options::{BulletListMarker, CodeBlockStyle, HeadingStyle, HrStyle, Options};
use markup5ever_rcdom::{Handle, NodeData};

/// Elements whose content is never text a reader sees.
const HIDDEN: [&str; 9] = ["script", "style", "noscript", "iframe", "object", "embed", "template", "meta", "link"];

/// Elements that start a line of their own in plain text.
const LINES: [&str; 12] = ["br", "dd", "div", "dt", "figcaption", "footer", "form", "header", "hr", "li", "nav", "tr"];

/// Elements set apart by a blank line in plain text.
const PARAGRAPHS: [&str; 16] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "dl",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ol",
    "p",
    "pre",
    "table",
    "ul",
];

/// `html` as Markdown.
pub fn to_markdown(html: &str) -> String {
    let options = Options {
        heading_style: HeadingStyle::Atx,
        hr_style: HrStyle::Dashes,
        bullet_list_marker: BulletListMarker::Dash,
        code_block_style: CodeBlockStyle::Fenced,
        ul_bullet_spacing: 1,
        ol_number_spacing: 1,
        ..Options::default()
    };
    let converter = htmd::HtmlToMarkdown::builder().options(options).skip_tags(HIDDEN.to_vec()).build();
    converter.convert(html).unwrap_or_else(|_| to_text(html))
}

/// The text of `html`: every text node outside the hidden elements, with a
/// line break around block elements, a blank line around paragraphs, runs
/// of blank space folded and `pre` kept as written.
pub fn to_text(html: &str) -> String {
    let converter = htmd::HtmlToMarkdown::new();
    let Ok(tree) = converter.html_to_tree(html) else { return String::new() };
    let mut text = String::new();
    walk(&tree, &mut text);
    let mut folded = String::new();
    let mut blank = false;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank = !folded.is_empty();
            continue;
        }
        if !folded.is_empty() {
            folded.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        folded.push_str(line);
    }
    folded
}

fn walk(node: &Handle, text: &mut String) {
    match &node.data {
        NodeData::Text { contents } => {
            let contents = contents.borrow();
            let mut space = text.ends_with([' ', '\n']) || text.is_empty();
            for c in contents.chars() {
                if c.is_whitespace() {
                    if !space {
                        text.push(' ');
                        space = true;
                    }
                } else {
                    text.push(c);
                    space = false;
                }
            }
        }
        NodeData::Element { name, .. } => {
            let tag = name.local.as_ref();
            if HIDDEN.contains(&tag) {
                return;
            }
            let gap = if PARAGRAPHS.contains(&tag) {
                2
            } else if LINES.contains(&tag) {
                1
            } else {
                0
            };
            break_lines(text, gap);
            if tag == "pre" {
                pre(node, text);
            } else {
                node.children.borrow().iter().for_each(|child| walk(child, text));
            }
            break_lines(text, gap);
        }
        _ => node.children.borrow().iter().for_each(|child| walk(child, text)),
    }
}

/// Ends `text` with at least `count` line breaks (none at its start).
fn break_lines(text: &mut String, count: usize) {
    if count == 0 || text.is_empty() {
        return;
    }
    text.truncate(text.trim_end_matches(' ').len());
    let present = text.len() - text.trim_end_matches('\n').len();
    (present..count).for_each(|_| text.push('\n'));
}

/// A `pre` element's text as written, its line breaks kept.
fn pre(node: &Handle, text: &mut String) {
    for child in node.children.borrow().iter() {
        match &child.data {
            NodeData::Text { contents } => text.push_str(&contents.borrow()),
            _ => pre(child, text),
        }
    }
}
