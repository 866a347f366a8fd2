"""Model card (README.md) for a model folder.

Figures that come from separate runs (GRU vs LSTM, throughput) are read from
training/benchmarks.json, which training/throughput.mjs and the GRU runs fill.
"""
import json
import os

from common import MODELS_DIR, TRAINING_DIR
import tradeoff
import vocab as vocab_mod

BENCH = os.path.join(TRAINING_DIR, "benchmarks.json")
BASELINES = os.path.join(TRAINING_DIR, "baselines.json")      # written by baselines.mjs
TEACHER_RUNS = os.path.join(TRAINING_DIR, "teacher_runs.json")  # the teachers' recipe study, by hand from the runs

DATA = {
    "sst2": ("SST-2 (GLUE): 67,347 movie-review phrases and sentences from the Stanford "
             "Sentiment Treebank train split (phrase-level labels; lowercased, PTB-tokenized). "
             "Dev: the 872 GLUE dev sentences. Test splits are held out and were not used."),
    "tweeteval-sentiment": ("TweetEval sentiment (SemEval-2017 Task 4A): 45,615 English tweets, "
                            "3 classes. Dev: 2,000 tweets. Test split held out and not used."),
}

TEACHERS = {"sst2-bilstm": "sst2-minilm", "tweeteval-bilstm": "tweeteval-minilm"}
STUDENTS = {v: k for k, v in TEACHERS.items()}


def taught_by(config):
    """The teacher version a student was distilled from: train.sh records the teacher's config in the
    student's (`teacher`), since a teacher retrained after its student keeps serving on its own."""
    return (config.get("teacher") or {}).get("version", "?")


def _write(folder, dataset, lines):
    """The card and, where tradeoff.json has its dataset, the plot its table points at (an export
    replaces the whole folder, so the plot of the last tradeoff run is drawn again here)."""
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    t = tradeoff.load()
    if t and dataset in t["datasets"]:
        tradeoff.plot(dataset, os.path.join(folder, "tradeoff.png"))


def _student_config(teacher_name):
    path = os.path.join(MODELS_DIR, STUDENTS[teacher_name], "config.json")
    with open(path) as f:
        return json.load(f)

DEV_SET = {"sst2": "SST-2 dev ({n:,} sentences)", "tweeteval-sentiment": "TweetEval sentiment dev ({n:,} tweets)"}
# How baselines.mjs's lexicon scores become labels (services/cli/README.md has the details).
LABEL_MAPPING = {
    2: ("Binary mapping (documented in `services/cli/README.md`): AFINN score >= 0 and VADER compound >= 0 "
        "are positive. The lexicons read SST's PTB-tokenized text as the file has it (`does n't`), which "
        "costs them some negations; on raw review text they do better, and the model's tokenizer maps raw "
        "text to the same form it was trained on."),
    3: ("Three-class mapping (documented in `services/cli/README.md`): VADER compound >= 0.05 positive, "
        "<= -0.05 negative, else neutral; AFINN score > 0 positive, < 0 negative, 0 neutral."),
}


def _load(path, name):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f).get(name, {})


def baseline_lines(config):
    b = _load(BASELINES, config["name"])
    if not b:
        return [f"Not measured for this folder: `node training/baselines.mjs <model folder>` writes the table."]
    data = DEV_SET.get(config["dataset"], config["dataset"] + " dev ({n:,} texts)").format(n=b["rows"][0]["n"])
    lines = [f"The lexicon scorers people use in Node, on the same file in the same run ({data}):", "",
             "| scorer | accuracy | macro-F1 | macro-recall |", "|---|---|---|---|"]
    lines += [f"| {r['scorer']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['macro_recall']:.4f} |" for r in b["rows"]]
    return lines + ["", "```sh", *b["commands"], "```", "", LABEL_MAPPING[len(config["labels"])]]


CAPABILITIES = {
    "negation": "negation", "contrast": "contrast (but / although / however)",
    "intensifiers": "intensifiers, directional (margin must move the right way)", "emoji": "emoji",
    "neutral": "neutral statements (3-class only)", "long_texts": "long texts (verdict after 128 tokens)",
    "inv_names": "invariance: names", "inv_typos": "invariance: typos", "inv_urls": "invariance: URLs",
    "inv_mentions": "invariance: @mentions", "inv_whitespace": "invariance: whitespace", "overall": "**overall**",
}


def behaviour_lines(config):
    b = config.get("behaviour")
    if not b:
        return ["Not measured: `node training/measure.mjs <model folder>`."]
    lines = [f"Hand-written cases in `{b['cases']}` (sha256 `{b['cases_sha256'][:12]}`), pass rate per capability, "
             "the model beside the lexicon scorers on the same cases. `make test` fails if the model falls below "
             "these rates (`services/cli/src/cli.test.ts`).", "",
             "| capability | cases | this model | AFINN | VADER |", "| --- | ---: | ---: | ---: | ---: |"]
    for cap, rate in b["rates"].items():
        lines.append(f"| {CAPABILITIES.get(cap, cap)} | {b['counts'][cap].split('/')[1]} | {100 * rate:.1f} % | "
                     f"{100 * b['afinn'].get(cap, 0):.1f} % | {100 * b['vader'].get(cap, 0):.1f} % |")
    return lines + ["", f"Command: `{b['command']}` (`--failures` lists the failed cases)."]


def distil_lines(config, hp):
    return [
        "### Distillation",
        "",
        f"The teacher (`models/{TEACHERS.get(config['name'], '?')}` v{taught_by(config)}, int8, "
        "through the serving path) labels a "
        "transfer set built by `training/augment.py`: every training text, plus texts made from them after "
        "Tang et al. 2019 (masking 10 % of words, same-tag word replacement 10 %, n-gram sampling 25 %; the tag "
        "is a heuristic one, see augment.py), negation and contrast templates, texts with emoji, and runs of "
        "3-8 training sentences. The student is trained on the teacher's logits (mean squared error) plus "
        f"{hp.get('alpha', 0)} x cross-entropy on the gold label where the text has one. Counts of the transfer "
        "set are in `training/.work/<model>/transfer.sources` after a run.",
        "",
    ]


def _fmt(x):
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def write_card(folder, config, extra):
    hp = config["hyperparameters"]
    m = config["dev_metrics"]
    bench = _load(BENCH, config["name"])
    cell = hp["cell"].upper()
    n_members = extra.get("members", 1)
    ens_line = []
    if n_members > 1:
        ens_line = [f"- **Ensemble**: {n_members} identically configured models trained with seeds "
                    f"{hp['seed']}..{hp['seed'] + n_members - 1}, exported as ONE graph; the logits are averaged. "
                    "Dev accuracy of the single members: "
                    + ", ".join(f"{d['accuracy']:.4f}" for d in extra.get("member_dev_metrics") or []) + "."]
    lines = [
        f"# {config['name']} v{config['version']}",
        "",
        f"Bidirectional {cell} sentiment classifier ({', '.join(config['labels'])}), "
        + (f"distilled from the fine-tuned MiniLM teacher `{TEACHERS.get(config['name'], '?')}` "
           f"v{taught_by(config)} over an augmented transfer set"
           if hp.get("soft") else "trained from scratch")
        + ", served with onnxruntime-node and the @xenova/transformers tokenizer.",
        "",
        "## Data",
        "",
        DATA.get(config["dataset"], config["dataset"]),
        "",
        "## Architecture",
        "",
        f"- WordPiece tokenizer ({hp['vocab_size']} tokens, see *Tokenizer*), max_length {config['max_length']}.",
        f"- Embedding {hp['emb_dim']}-d (embedding dropout {hp['emb_dropout']}, word dropout to [UNK] {hp['word_dropout']}) "
        f"concatenated with {len(hp['lexicon_features'])} constant lexicon features per token "
        f"({', '.join(hp['lexicon_features'])}; AFINN-165 from `sentiment`, VADER from `vader-sentiment`), "
        "a lookup table indexed by token id inside the graph.",
        f"- {hp['layers']}-layer bidirectional {cell}, hidden {hp['hidden']} per direction, run on packed "
        "sequences (ONNX `sequence_lens`), so the backward direction starts at the last real token.",
        "- Masked max + mean pooling over real tokens, plus the mean lexicon features, dropout "
        f"{hp['dropout']}, linear layer to {len(config['labels'])} logits.",
    ] + ens_line + [
        "- Storage: in the ONNX file each embedding keeps only the rows of tokens seen in training (the others are "
        "exactly zero and are reached through an id-to-row table) as float16, and the RNN weight matrices are "
        "stored as float16 too (Cast to float32 in the graph; all arithmetic is float32). The weights were rounded "
        "to float16 in PyTorch before export, so the PyTorch reference logits and the dev metrics below use "
        "exactly the shipped values.",
        "- Logits do not depend on padding (tested in PyTorch and onnxruntime-node). An empty text is "
        "read as a single [PAD] step and gets a defined output.",
        "",
        "## Inputs / outputs",
        "",
        "- `input_ids` int64 [batch, sequence], `attention_mask` int64 [batch, sequence] (right padding, [PAD]=0)",
        f"- `logits` float32 [batch, {len(config['labels'])}], label order {json.dumps(config['labels'])}; apply softmax for probabilities.",
        f"- ONNX opset 14, ops: {', '.join(extra['onnx_ops'])}. `model.onnx` sha256 is in config.json.",
        "",
        "## Tokenizer",
        "",
        "One `tokenizer.json` for training and serving: the training ids were produced by "
        "`@xenova/transformers` AutoTokenizer in Node (`training/tokenize-corpus.mjs`), the same code path as the service.",
        "",
        "- Normalizer: NFKC; PTB quotes (two backticks, two apostrophes) and typographic quotes to ASCII; lowercase; HTML entities "
        "(`&amp;` ...); URLs to `http`; emoji variation selectors / ZWJ / skin tones removed; raw contractions "
        "to the Penn-Treebank split form of SST (`doesn't` to `does n't`, `can't` to `ca n't`, `won't` to `wo n't`, "
        "also apostrophe-less `dont`/`cant`/`isnt`..., `cannot` to `can not`, `im` to `i 'm`).",
        "- Pre-tokenizer (Split regex, unicode-aware): emoticons (`:)`, `:-(`, `<3`), PTB clitics "
        "(`n't`, `'s`, `'re`, `'ve`, `'ll`, `'m`, `'d`), runs of letters/marks/digits in any script, and every other "
        "non-space character (punctuation, each emoji) as its own token.",
        "- Model: WordPiece (`##` continuation pieces). Vocabulary: frequent whole words, AFINN/VADER words, all "
        "characters seen, and the most type-frequent sub-word pieces, so unseen words map to pieces, not [UNK].",
        "- `doesn't` / `does n't` and `it's` / `it 's` give identical ids. No [CLS]/[SEP].",
        "",
        "Pre-tokenizer regex:",
        "",
        "```",
        vocab_mod.pretokenizer_regex(),
        "```",
        "",
        "## Training",
        "",
        f"Training command: `make train MODEL={config['name']}` (= `bash training/train.sh {config['name']}`). "
        f"Wall time of the training loop: {extra['train_seconds'] / 60:.1f} min with 1 torch thread on a shared "
        "2-core VM (the whole `train.sh`, incl. vocabulary, Node tokenization and export, adds about 1 min). "
        "One torch thread is deliberate: with 2 OpenMP threads on the loaded machine a step was ~5x slower.",
        "",
        "Objective: cross-entropy"
        + (" with inverse-frequency class weights" if hp.get("class_weights") else "")
        + (f", each example weighted by (token count)^{hp['length_weight']} (the dev/test sets are full "
           "sentences while most training rows are short phrases)" if hp.get("length_weight") else "")
        + "; AdamW, linear warm-up then cosine decay, gradient clipping 5; evaluation on dev "
        f"{hp['evals_per_epoch']}x per epoch, the best checkpoint is kept (early stopping, patience {hp['patience']})"
        + (f". The weights evaluated and kept are an exponential moving average of the training weights "
           f"(decay {hp['ema']}); how that and the epoch count were chosen, over several seeds: "
           "[training/README.md](../../training/README.md#recipe-study)" if hp.get("ema") else "") + ".",
        "",
    ] + (distil_lines(config, hp) if hp.get("soft") else []) + [
        "Hyperparameters:",
        "",
        "```json",
        json.dumps(hp, indent=2),
        "```",
        "",
        "Curves: `curves.png` (train/dev loss, dev accuracy / macro-F1 / macro-recall per evaluation).",
        "",
        "## Dev metrics",
        "",
        "| accuracy | macro-F1 | macro-recall |",
        "| ---: | ---: | ---: |",
        f"| {_fmt(m['accuracy'])} | {_fmt(m['macro_f1'])} | {_fmt(m['macro_recall'])} |",
        "",
        "Early stopping selected the checkpoint on the dev set, so dev figures are optimistic; "
        "the held-out test sets are evaluated separately.",
        "",
    ]
    if bench:
        lines += ["## GRU vs LSTM", ""] + bench.get("card_lines", []) + [""]
    else:
        lines += ["## GRU vs LSTM", "",
                  "Compared on SST-2 with the same pipeline (`--cell gru`): the BiGRU was less accurate and not "
                  "faster in onnxruntime-node; see the table in `models/sst2-bilstm/README.md`.", ""]
    lines += [
        "## Serving notes (xenova 2.17.2 / onnxruntime-node 1.30 quirks)",
        "",
        "- `tok(texts, { padding: true, truncation: true, max_length })` pads **every** batch to `max_length` "
        "(xenova only pads to the longest text when `max_length` is not given). Results are identical either "
        "way (padding-invariant model); only speed differs, see the throughput table where measured.",
        "- The tensors returned by the tokenizer have `.data === undefined` with onnxruntime-common 1.30 "
        "(xenova's Tensor copies ORT's tensor with `Object.assign`, which drops the `data` getter); the values are "
        "in `.cpuData`. Build the feeds as `new ort.Tensor('int64', t.data ?? t.cpuData, t.dims)`.",
        "- `tokenizer_config.json` must keep `model_max_length`: xenova computes "
        "`Math.min(max_length, model_max_length)` and an absent value makes it NaN.",
        "- The tokenizer is written for xenova: two Replace rules use `$1` group references (JS `replaceAll`), "
        "and xenova compiles every Regex with the `gu` flags. The Rust/Python `tokenizers` library would insert "
        "`$1` literally, so do not expect identical ids from it.",
        "- A literal `[PAD]` / `[UNK]` in the input text is matched as a special token (xenova splits added "
        "tokens before normalization); harmless here.",
        "- `training/verify-onnx.mjs` checks all of this against `parity.jsonl` (logits within 1e-4, "
        "each text alone, the service-style batch, and a batch padded to the longest text).",
        "",
        "## Baselines",
        "",
        *baseline_lines(config),
        "",
        "## Accuracy against speed",
        "",
        *tradeoff.table_lines(config["dataset"]),
        "",
        "## Behaviour suite",
        "",
        *behaviour_lines(config),
        "",
        "## Limits",
        "",
        "- English only. Other scripts tokenize without errors but the output is meaningless.",
        f"- Domain: {'movie-review snippets (SST-2); raw product/restaurant reviews are out of domain, which the raw-text normalization and lexicon features are meant to soften' if config['dataset'] == 'sst2' else 'tweets from 2013-2017 (SemEval), with @user placeholders; other social media text is out of domain'}.",
        (f"- Texts longer than {config['max_length']} tokens are read in windows of {config['max_length']} tokens, "
         f"{config['window_stride']} apart, and the windows' logits averaged: all of a long review is read, but a "
         "verdict in one window is diluted by the others." if config.get("window_stride")
         else f"- Texts longer than {config['max_length']} tokens are truncated (the end is not read)."),
        "- Sarcasm, comparisons and long mixed reviews remain hard; dev metrics were used for early stopping.",
        "- Lexicon priors carry the biases of AFINN and VADER word lists. They are attached to whole-word "
        "tokens, and WordPiece may use a whole word as the first piece of an unseen longer word (e.g. "
        "`hello` -> `hell ##o` in the SST-2 vocabulary), which then carries that word's prior; the model saw "
        "the same effect in training, but rare words can be misread this way.",
        ("- Emoji are read as their Unicode CLDR names (`emoji.json`, from `cldr-annotations-full`; 😍 -> "
         "\"smiling face with heart-eyes\"): the training data has no emoji, so what an emoji does comes from its "
         "name and the teacher's labels of the emoji texts in the transfer set. Non-Latin characters never seen in "
         "training map to [UNK]." if os.path.isfile(os.path.join(folder, "emoji.json"))
         else "- Emoji and non-Latin characters never seen in the training data map to [UNK]"
         + (" (SST-2 has no emoji at all)." if config["dataset"] == "sst2" else ".")),
        "",
    ]
    _write(folder, config["dataset"], lines)


def teacher_runs_lines(config):
    """The recipe study of this teacher (training/teacher_runs.json: every fine-tuning run, kept or not)."""
    runs = _load(TEACHER_RUNS, config["name"])
    if not runs:
        return ["One seed (13) was trained, so no seed spread is measured for this teacher.", ""]
    lines = [f"Every fine-tuning run of this teacher (one run each; dev {runs['metric']} after one epoch, the best "
             "checkpoint):", "",
             f"| learning rate | seed | fp32 PyTorch | int8, served | behaviour (of {runs['cases']}) | shipped |",
             "| ---: | ---: | ---: | ---: | ---: | :---: |"]
    for r in runs["runs"]:
        lines.append(f"| {r['lr']:g} | {r['seed']} | {r['pytorch_dev']:.4f} | {r['int8_dev']:.4f} | "
                     f"{r.get('behaviour', '-')} | {r['version'] if r.get('version') else ''} |")
    return lines + ["", runs["note"], ""]


def write_teacher_card(folder, config):
    m = config["dev_metrics"]
    hp = config["hyperparameters"]
    student = STUDENTS[config["name"]]
    taught = taught_by(_student_config(config["name"]))
    role = (f"the teacher the shipped `{student}` is distilled from" if taught == config["version"] else
            f"the teacher of the shipped `{student}` (which was distilled from v{taught} of it: this version was "
            "retrained after, see Training)")
    lines = [
        f"# {config['name']} v{config['version']}",
        "",
        f"A fine-tuned transformer ({', '.join(config['labels'])}), int8 for CPU: {role}, and a model of its own "
        f"for whoever wants the accuracy more than the speed (`MODEL={config['name']}`; same event schema).",
        "",
        "## Data",
        "",
        DATA.get(config["dataset"], config["dataset"]),
        "",
        "## Architecture",
        "",
        "- Encoder: all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, 22.7 M parameters), its weights and its BERT "
        f"uncased WordPiece tokenizer (30,522 tokens) taken from `{config['teacher_source']}`, which holds the ONNX "
        "graph @xenova/transformers loads. `training/minilm.py` reads the ONNX initializers into a PyTorch module "
        "(the MatMul weights are found through the graph); `teacher.py check` holds its hidden states to ONNX "
        "Runtime's run of the original graph (max difference 4.4e-6 on the 50 parity texts).",
        "- Head: mean of the last hidden states over real tokens (the pooling the encoder was trained with), dropout "
        f"{hp.get('classifier_dropout', 0.1)}, linear layer to {len(config['labels'])} logits.",
        f"- Tokenizer: the jar's, plus rules after its BertNormalizer that map SST's Penn-Treebank contractions back to "
        "raw text (`does n't` -> `doesn't`, `ca n't` -> `can't`, two backticks -> `\"`), so PTB and raw text give the "
        "same ids; emoji are read as their Unicode CLDR names (`emoji.json`). [CLS]/[SEP] around each text.",
        f"- max_length {config['max_length']}; longer texts are read in windows of {config['max_length']} tokens "
        f"{config['window_stride']} apart ([CLS]/[SEP] around each), and the windows' logits averaged.",
        "- int8 (`training/teacher_export.py`): the 36 encoder projections are `QuantizeLinear -> MatMulInteger -> "
        "Mul` with int8 weights (one scale per output column) and uint8 activations with **fixed** scales calibrated "
        "on 1,024 training texts, not ONNX Runtime's dynamic quantization: a dynamic scale is computed over the whole "
        "batch tensor, so a text's logits would depend on its batch neighbours and its padding. The word embeddings "
        "are int8 with one scale per row. 90.3 MB (fp32) -> ~23.6 MB.",
        "",
        "## Training",
        "",
        f"`make train MODEL={config['name']}` (= `bash training/train-teacher.sh {config['name']}`): fine-tuned on "
        "CPU with 1 torch thread, word embeddings frozen (61 % of the weights; the budget of issue 14), length-"
        "bucketed batches, AdamW with linear warm-up and decay, dev evaluated 4x per epoch and the best checkpoint "
        "kept, a checkpoint every 3 minutes from which a stopped run resumes. Hyperparameters:",
        "",
        "```json",
        json.dumps(hp, indent=2),
        "```",
        "",
        "## Dev metrics",
        "",
        "Through the serving path (int8, `sentiment-stream eval`), and of the fp32 PyTorch checkpoint it came from:",
        "",
        "| | accuracy | macro-F1 | macro-recall |",
        "| --- | ---: | ---: | ---: |",
        f"| int8 ONNX (shipped) | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['macro_recall']:.4f} |",
        "| fp32 PyTorch (best checkpoint, epoch {}) | {:.4f} | {:.4f} | {:.4f} |".format(
            config.get("best_epoch"), config["pytorch_dev_metrics"]["accuracy"],
            config["pytorch_dev_metrics"]["macro_f1"], config["pytorch_dev_metrics"]["macro_recall"]),
        "",
        f"Command: `{config.get('dev_metrics_command', '')}`. The checkpoint was chosen on dev, so dev figures are "
        "optimistic.",
        "",
        *teacher_runs_lines(config),
        "## Baselines",
        "",
        *baseline_lines(config),
        "",
        "## Accuracy against speed",
        "",
        *tradeoff.table_lines(config["dataset"]),
        "",
        "## Behaviour suite",
        "",
        *behaviour_lines(config),
        "",
        "## Limits",
        "",
        "- English only; domain as the training data (movie reviews for SST-2, 2013-2017 tweets for TweetEval).",
        "- About 10-20x slower than the BiLSTM on CPU (table above); where a GPU is present it is the model that "
        "gains most (not measured here: no GPU on this machine).",
        "- The int8 graph moves logits by up to a few tenths against fp32 (`training/teacher-parity.mjs` prints the "
        "largest difference); dev accuracy of both is in the table above.",
        "",
    ]
    _write(folder, config["dataset"], lines)


def main():
    """Re-render a card (after benchmarks.json, tradeoff.json or the behaviour rates changed):
    python3 card.py MODEL_DIR RUN_DIR"""
    import sys
    folder, run_dir = sys.argv[1], sys.argv[2]
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    if "teacher_source" in config:
        write_teacher_card(folder, config)
        return
    with open(os.path.join(run_dir, "export_info.json")) as f:
        extra = json.load(f)
    write_card(folder, config, extra)


if __name__ == "__main__":
    main()
