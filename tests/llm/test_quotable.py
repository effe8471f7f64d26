"""What an extractive answer may quote (issue 20): prose, never headings, commands, code or
page furniture; and what a question asks for (its terms and the kind of answer)."""

import pytest

from app.llm.asks import coverage, fits_kind, read_question
from app.llm.quotable import asks_for_steps, is_quotable, is_step


@pytest.mark.parametrize(
    "line",
    [
        "BASH(1) General Commands Manual BASH(1)",  # a manual page's running header
        "GNU Bash 5.2 2022 September 19 56",  # a running footer with its page number
        "Page 3 of 10",
        "# apt install -y nftables",  # a root prompt
        "$ ls -la /etc/apt/sources.list.d",
        "sudo systemctl restart nginx.service",
        "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi",  # code
        "Configuring the Network Interfaces",  # a heading
        "## History Expansion",
        "| Option | Meaning |",
        "Too short.",
    ],
)
def test_headings_commands_and_page_furniture_are_not_quoted(line):
    assert not is_quotable(line)


@pytest.mark.parametrize(
    "line",
    [
        # A section path (a breadcrumb, or a document titled by its place in a manual).
        "Settings > Lock screen and security > Permission manager",
        "Getting started > Start using your device > Accounts > Add an email account",
        # A task heading, in lower case after its first word.
        "Setting the screen to black and white",
        "Connecting with a composite cable (Only for models with COMPONENT IN /",
        # A run of menu labels from a PDF whose icons were dropped.
        "Color Tone Try Now White Balance Try Now Gamma Try Now RGB Only Mode Try Now Reset",
        # A question the manual asks itself is not its answer.
        "What is Remote Support?",
        # A row of numbers and units read as text.
        "+ / + 3840 x 2160 30 Hz 67.500 30.000 297.000",
    ],
)
def test_manual_headings_paths_labels_and_questions_are_not_quoted(line):
    assert not is_quotable(line)


@pytest.mark.parametrize(
    "sentence",
    [
        # A procedure through menus is an answer, its ">" steps not code.
        "From Settings, tap Display > Screen timeout, and tap a time limit to set it.",
        "Tap More options > Configure mobile hotspot for the following settings:",
        "Settings > Lock screen and security > Location services may be turned off.",
        "Using a soft cloth, wipe the screen gently.",
    ],
)
def test_manual_procedures_are_quoted(sentence):
    assert is_quotable(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "The text of the last HISTSIZE commands (default 500) is saved.",
        "Panels should be cleaned twice a year.",
        "Debian releases a new stable version about every two years.",
        "In 1066, the Normans conquered England under William.",
    ],
)
def test_prose_is_quoted(sentence):
    assert is_quotable(sentence)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many commands does the history list keep?", "number"),
        ("When did the Normans conquer England?", "date"),
        ("Which command installs a package?", "command"),
        ("Who led the Normans?", "person"),
        ("Where is the Rhine's source?", "place"),
        ("Why is the sky blue?", ""),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert read_question(question).kind == kind


def test_a_number_question_prefers_the_sentence_with_a_number():
    asked = read_question("How many commands are kept in the history?")
    assert fits_kind(asked, "The last HISTSIZE commands (default 500) are saved.")
    assert not fits_kind(asked, "The history list holds the commands typed so far.")


def test_coverage_counts_the_question_terms_a_sentence_holds():
    asked = read_question("Which commands are saved in the history file?")
    assert coverage(asked, "The commands typed are saved to the history file.") == 1.0
    assert coverage(asked, "Unrelated words only.") == 0.0


@pytest.mark.parametrize(
    ("question", "steps"),
    [
        ("How do I change the screen timeout?", True),
        ("How to delete account?", True),
        ("What are the steps to connect my mobile device to the TV?", True),
        ("How did the Normans conquer England?", False),
        ("How many commands does the history list keep?", False),
    ],
)
def test_a_how_do_i_question_asks_for_steps(question, steps):
    assert asks_for_steps(question) is steps


@pytest.mark.parametrize(
    ("sentence", "step"),
    [
        ("From Settings, tap Display > Screen timeout, and tap a time limit.", True),
        ("To add a city to the list, tap Add city.", True),
        ("Press and hold the VOL button to display the Accessibility Shortcuts menu.", True),
        ("The screen timeout turns the screen off after a set amount of time.", False),
        ("In 1066, the Normans conquered England.", False),
    ],
)
def test_an_instruction_is_told_from_a_description(sentence, step):
    assert is_step(sentence) is step
