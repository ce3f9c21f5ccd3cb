"""A synthetic posts + sentence-annotations data set in the layout of the public one.

SYNTHETIC: every post is assembled from templates; no text comes from a real person. Posts mix
filler sentences, sentences that express one DSM-5 symptom (status 1), and hard negatives that use
the same words but deny or resolve the symptom (status 0). Some sentences are also annotated
against a *different* symptom (status 0), so a classifier must read the criterion, and a small
fraction of labels is flipped, so the task is learnable but not trivial.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from trainlab.io import atomic_write_text

SYNTHETIC_NOTE = (
    "SYNTHETIC DATA made by trainlab.data.text.generator from templates (seed={seed}). "
    "It imitates the layout of a public post/sentence-annotation data set; no sentence was "
    "written by a real person and it carries no clinical meaning."
)

WHEN = ["lately", "these days", "for weeks now", "since last month", "most days", "again"]
ADV = ["really", "honestly", "just", "kind of", "completely", "so"]

POSITIVE: dict[str, list[str]] = {
    "DEPRESSED_MOOD": [
        "I feel {adv} sad and empty {when}.",
        "Everything feels hopeless {when} and I cry for no reason.",
        "I have been {adv} down and miserable {when}.",
        "There is this heavy sadness on me {when} that never lifts.",
    ],
    "ANHEDONIA": [
        "Nothing I used to love gives me any joy {when}.",
        "I {adv} lost interest in my hobbies {when}.",
        "Even gaming with friends feels pointless {when}, I enjoy nothing.",
        "I can't get excited about anything {when}.",
    ],
    "APPETITE_CHANGE": [
        "I {adv} stopped eating properly {when} and lost a lot of weight.",
        "I keep eating way too much {when}, I gained weight fast.",
        "Food has no appeal {when}, I skip most meals.",
        "My appetite is {adv} gone {when}.",
    ],
    "SLEEP_ISSUES": [
        "I can't sleep at night {when}, I lie awake until four.",
        "I wake up at 3am {when} and never fall back asleep.",
        "I {adv} sleep fourteen hours a day {when} and still want more.",
        "Insomnia has wrecked my nights {when}.",
    ],
    "PSYCHOMOTOR": [
        "I feel {adv} restless {when}, I pace around and cannot sit still.",
        "My body feels slowed down {when}, even talking takes effort.",
        "People say I move and speak so slowly {when}.",
        "I keep fidgeting and pacing {when}, I can't stay still.",
    ],
    "FATIGUE": [
        "I am {adv} exhausted all the time {when}, even after resting.",
        "I have no energy {when}, getting out of bed drains me.",
        "Showering feels like running a marathon {when}, I am that tired.",
        "I feel drained and worn out {when} no matter what I do.",
    ],
    "WORTHLESSNESS": [
        "I feel {adv} worthless {when}, like a burden to everyone.",
        "Everything is my fault and I hate myself {when}.",
        "I am a failure and I feel so guilty {when}.",
        "I {adv} believe I don't deserve anyone's kindness {when}.",
    ],
    "COGNITIVE_ISSUES": [
        "I can't concentrate on anything {when}, I reread the same page.",
        "My mind is foggy {when} and I can't make simple decisions.",
        "I {adv} keep forgetting things and losing focus at work {when}.",
        "Focusing on anything is impossible for me {when}.",
    ],
    "SUICIDAL_THOUGHTS": [
        "I keep thinking everyone would be better off without me {when}.",
        "I have thoughts about ending my life {when}.",
        "Sometimes I wish I could just disappear forever {when}.",
        "I {adv} think about death all the time {when}.",
    ],
}

# Same vocabulary, opposite meaning: the hard part of the task.
NEGATIVE: dict[str, list[str]] = {
    "DEPRESSED_MOOD": [
        "I was sad about the rain {when} but my mood is fine overall.",
        "I don't feel down or empty {when}, things are okay.",
        "My sister feels hopeless {when}, I worry about her.",
    ],
    "ANHEDONIA": [
        "I still enjoy my hobbies {when}, painting keeps me happy.",
        "I lost interest in that show {when} because it got boring.",
        "Gaming with friends is {adv} fun {when}.",
    ],
    "APPETITE_CHANGE": [
        "My appetite is normal {when}, I eat three meals a day.",
        "I skipped lunch today because of a meeting.",
        "I lost some weight {when} because I started running on purpose.",
    ],
    "SLEEP_ISSUES": [
        "I sleep fine {when}, about eight hours a night.",
        "I woke up at 3am once because the neighbours had a party.",
        "My roommate can't sleep {when}, but I do.",
    ],
    "PSYCHOMOTOR": [
        "I pace around when I'm on the phone, always have.",
        "I am not restless {when}, I can sit through a whole movie.",
        "The queue moved so slowly today.",
    ],
    "FATIGUE": [
        "I was tired after the hike but rested well.",
        "I have plenty of energy {when}, I even started cycling.",
        "Work was exhausting today, nothing unusual.",
    ],
    "WORTHLESSNESS": [
        "I don't think I'm worthless, I know I matter to people.",
        "It was my fault we missed the bus, we laughed about it.",
        "I feel guilty about eating the last cookie.",
    ],
    "COGNITIVE_ISSUES": [
        "I can concentrate fine {when}, work is going well.",
        "I forgot my keys once {when}, nothing serious.",
        "Focusing is easy for me when the office is quiet.",
    ],
    "SUICIDAL_THOUGHTS": [
        "I would never hurt myself, I want to live.",
        "We watched a movie about death {when}, it was moving.",
        "I wish I could disappear on a long holiday {when}.",
    ],
}

FILLER = [
    "I work at a small bakery downtown.",
    "My cat knocked over a plant this morning.",
    "We are planning a trip to the coast in summer.",
    "I started learning to play the guitar.",
    "The bus was late again today.",
    "My brother just moved to a new apartment.",
    "I have been reading a long fantasy series.",
    "It rained the whole weekend here.",
    "I'm posting here because a friend suggested it.",
    "Not sure if this is the right place to ask.",
    "I'm in my second year of college.",
    "My parents live about an hour away.",
    "Thanks for reading this far.",
    "Anyway, that is my situation.",
]

CRITERIA = tuple(POSITIVE)


def _fill(template: str, rng: random.Random) -> str:
    return template.format(when=rng.choice(WHEN), adv=rng.choice(ADV))


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def generate_text_dataset(
    out_dir: str | Path,
    *,
    n_posts: int = 500,
    seed: int = 0,
    criteria: tuple[str, ...] = CRITERIA,
    label_noise: float = 0.04,
    mismatch_rate: float = 0.5,
) -> dict[str, Path]:
    """Write posts.csv, annotations.csv and README.md (saying the data is synthetic).

    Args:
        out_dir: folder to write into (created).
        n_posts: number of posts.
        seed: makes the data set reproducible.
        criteria: the symptoms used (subset of CRITERIA).
        label_noise: probability of flipping an annotation's status.
        mismatch_rate: probability that a symptom sentence is also annotated (status 0)
            against another symptom.

    Returns:
        {"posts": path, "annotations": path, "readme": path}
    """
    unknown = [c for c in criteria if c not in POSITIVE]
    if unknown:
        raise ValueError(f"unknown criteria {unknown}; choose from {list(CRITERIA)}")
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    posts: list[list[str]] = []
    annotations: list[list[str]] = []
    for p in range(n_posts):
        post_id = f"synthetic-{p:05d}"
        n_pos = rng.choice([0, 1, 1, 2, 2, 3])
        n_neg = rng.choice([0, 1, 1, 2])
        chosen = rng.sample(list(criteria), k=min(len(criteria), n_pos + n_neg))
        items = [(c, 1) for c in chosen[:n_pos]] + [(c, 0) for c in chosen[n_pos:]]
        items += [(None, 0)] * rng.randint(2, 6)
        rng.shuffle(items)
        sentences: list[str] = []
        for i, (criterion, status) in enumerate(items):
            if criterion is None:
                sentences.append(rng.choice(FILLER))
                continue
            bank = POSITIVE if status else NEGATIVE
            text = _fill(rng.choice(bank[criterion]), rng)
            sentences.append(text)
            sid = f"{post_id}_s{i}"
            rows = [(criterion, status, "synthetic: expresses" if status else "synthetic: denies")]
            if status and rng.random() < mismatch_rate and len(criteria) > 1:
                other = rng.choice([c for c in criteria if c != criterion])
                rows.append((other, 0, f"synthetic: expresses {criterion}, not {other}"))
            for crit, stat, why in rows:
                if rng.random() < label_noise:
                    stat, why = 1 - stat, why + " (label flipped on purpose)"
                # Some exports change case; the reader must still find the sentence.
                shown = text.lower() if rng.random() < 0.03 else text
                annotations.append([post_id, sid, shown, crit, str(stat), why])
        posts.append([post_id, " ".join(sentences)])
    paths = {"posts": out / "posts.csv", "annotations": out / "annotations.csv"}
    atomic_write_text(paths["posts"], _csv_text(["post_id", "text"], posts))
    header = ["post_id", "sentence_id", "sentence_text", "DSM5_symptom", "status", "explanation"]
    atomic_write_text(paths["annotations"], _csv_text(header, annotations))
    paths["readme"] = out / "README.md"
    atomic_write_text(paths["readme"], SYNTHETIC_NOTE.format(seed=seed) + "\n")
    return paths
