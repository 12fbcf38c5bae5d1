"""Labeling functions (weak supervision) for the experimental narrative labels.

Each labeling function (LF) looks at one text and votes for one label: ``POSITIVE`` (1), ``NEGATIVE`` (0) or
``ABSTAIN`` (-1). LFs are lexicon/regex rules written from ``docs/narratives/guidelines.md``; they are
deliberately narrow (high precision, low coverage) and are used to

- pick positives and hard negatives out of the training sources (EUvsDisinfo claims, SemEval paragraphs), and
- describe the data: :func:`lf_report` gives coverage, overlap and conflicts per LF (and accuracy against gold
  labels when given).

Because the training labels partly come from these rules, a model could learn nothing but the rules' words.
:func:`pattern_words` returns every trigger pattern the LFs use so evaluation can report quality on texts that
contain none of them (:func:`pattern_free_mask`). Topic context patterns (event names such as "Bucha",
"bodies") are not pattern words: they name the event, not the claim, and appear in positives and negatives alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from training.narratives import NARRATIVE_LABELS

ABSTAIN = -1
NEGATIVE = 0
POSITIVE = 1

# --- lexicons: regex fragments, matched on normalised text (lower case, straight quotes) with word boundaries --

STAGING: tuple[str, ...] = (
    r"stag(?:ed|ing|e[- ]managed)",
    r"(?:to|will|would|could|plans? to|preparing to|prepare to) stage",
    r"stages? (?:a|an|the|another|new)",
    r"faked|faking|fakery",
    r"fake (?:massacres?|attacks?|bodies|corpses|victims|deaths|dead|graves|videos?|footage|photos|pictures|"
    r"images|blood|chemical attacks?|gas attacks?|shootings?|story|event|tragedy|genocide)",
    r"(?:is|was|were|are|all|totally|completely|entirely) (?:a )?fake",
    r"hoax(?:es)?",
    r"fabricat\w*",
    r"(?:were|are|all|just|hired|paid|crisis|professional) actors?",
    r"actors (?:playing|pretending|hired)",
    r"extras",
    r"mannequins?",
    r"cgi",
    r"photoshop\w*",
    r"green ?screen",
    r"film set",
    r"ketchup",
    r"(?:is|was|were|all|totally) made up",
    r"scripted",
    r"provocations?",
)

FALSE_FLAG: tuple[str, ...] = (
    r"false[- ]flags?",
    r"(?:ukrainians?|ukraine|kyiv|kiev|azov|afu|zsu|zelensky|white helmets|rebels|jihadists|terrorists|"
    r"bosniaks?|muslims|nato|the west|americans|brits|mi6|cia|sbu|they)\b[^.!?]{0,40}?\b"
    r"(?:killed|shot|bombed|shelled|murdered|gassed|blew up|executed|hit|struck|attacked|poisoned) "
    r"(?:their|its) own",
    r"did (?:it|this|that) (?:to )?themselves",
    r"to (?:frame|blame) (?:russia|the russians|russians|assad|damascus|moscow|the serbs|serbs)",
    r"(?:killings|massacres?|shootings?|attacks?|deaths|bombings?) (?:\w+ ){0,5}(?:was|were) "
    r"(?:orchestrated|organi[sz]ed|staged|planned|arranged|engineered) by",
    r"(?:planned|orchestrated|organi[sz]ed|engineered|plotted|staged) by (?:the )?(?:ukrain\w*|kyiv|kiev|"
    r"the west|western|americans?|us|british|uk|nato|cia|mi6|sbu|\w+ intelligence|special services|"
    r"white helmets|rebels|terrorists|mossad)",
)

DENIAL: tuple[str, ...] = (
    r"(?:did(?:n'?t| not)|never) use chemical weapons",
    r"(?:was|were) no (?:chemical|gas|sarin|chlorine) attacks?",
    r"never happened",
    r"did(?:n'?t| not) happen",
    r"(?:no ?one|nobody) (?:was |were |got )?(?:killed|died|murdered|dead)",
    r"there (?:was|were) no (?:massacre|bodies|victims|genocide|gas chambers?|chemical attack|gas attack|killings?)",
    r"no gas chambers?",
    r"holo ?hoax",
    r"six million (?:lie|myth|hoax|fairy ?tale)",
    r"(?:massacre|genocide|holocaust|atrocity) (?:myth|lie|hoax|fairy ?tale)",
    r"(?:so[- ]called|supposed) "
    r"(?:massacre|genocide|holocaust|atrocity|victims|gas attack|chemical attack|mass graves?)",
    r"holocaust (?:revision\w*|liars?|industry|lies|fraud|scam)",
    r"(?:is|was|are|were) (?:a |an |just a |nothing but a |all a )?"
    r"(?:myth|lie|hoax|fraud|farce|fairy ?tale|fiction|invention)",
    r"invented (?:by|to|for|in order to)",
    r"(?:there is|there's|there was|there were) no (?:evidence|proof|trace) (?:of|for) (?:the |a |any )?"
    r"(?:holodomor|holocaust|massacres?|genocide|gas chambers?|chemical attacks?|gas attacks?|killings|bodies|victims)",
    r"falsely attributed to",
)

MINIMISE: tuple[str, ...] = (
    r"only (?:a )?(?:few|handful|couple|dozen|\d+) (?:\w+ )?(?:died|dead|killed|bodies|people|victims)",
    r"(?:numbers?|figures?|death toll|toll|casualt(?:y|ies)(?: figures?)?) (?:are|were|is|was|has been|have been) "
    r"(?:\w+ )?(?:inflated|exaggerated|made up|invented|cooked|fabricated|pumped up)",
    r"exaggerat\w*",
)

REPORTING: tuple[str, ...] = (
    r"claim(?:s|ed|ing)?",
    r"alleg\w*",
    r"according to",
    r"says|said|saying|insists?|insisted",
    r"report(?:s|ed|ing)?",
    r"debunk\w*",
    r"fact[- ]?check\w*",
    r"disinformation|misinformation",
    r"conspiracy theor\w*",
    r"deniers?|denial\w*|denying",
    r"no evidence (?:given|was given|has been given|for (?:this|these|that|the|such|any)|that|at all|whatsoever)",
    r"without (?:any )?evidence",
    r"(?:the|this|that|a) lie (?:that|about)",
    r"kremlin",
    r"state (?:tv|television|media)",
    r"propagandists?",
    r"satellite (?:images?|imagery|photos?|pictures)",
    r"(?:investigators?|investigation|court|tribunal|opcw|icty|jit|inspectors|forensic\w*) (?:\w+ )?"
    r"(?:found|confirmed|showed|shows|proved|ruled|established|concluded)",
    r"(?:he|she|they|uncle|aunt|dad|mum|mom|father|mother|friend|brother|sister|people|folks|anyone|someone|who) "
    r"(?:still )?(?:believes?|thinks?|swears?|keeps? (?:saying|sending|posting|sharing))",
    r"(?:pushing|spreading|repeating|parroting) (?:the|this|that)",
    r"push(?:ed|es)? the (?:idea|claim|story|narrative|line|lie)",
    r"the (?:idea|notion|theory|rumou?r|myth|allegation) that",
    r"(?:told|tells|taught|teaches|telling|teaching) (?:\w+ ){0,2}that",
    r"call(?:s|ed|ing)? (?:it|them|this|that|the|bucha|everything)",
    r"wrote|writes|posted|tweeted|tweets",
    r"(?:the|that|this|their) (?:line|narrative|story) (?:that|about)",
    r"crowd|yelling|shouting|screaming",
    r"oh sure|sure,|yeah right",
    r"falls? for|fell for",
    r"sputnik|lavrov|zakharova|peskov",
    r"tinfoil",
)

GRIEF: tuple[str, ...] = (
    r"rest in peace",
    r"rip",
    r"condolences",
    r"heart ?break\w*|heartbroken",
    r"my heart",
    r"prayers?",
    r"never forget",
    r"war crim\w+",
    r"(?:must|should|will) (?:face|be held|answer|pay)",
    r"justice for",
)

CONSPIRACY_PLOT: tuple[str, ...] = (
    r"deep state",
    r"new world order|nwo",
    r"the globalists",
    r"globalists? (?:agenda|plan|plans|plot|elites?|cabal|takeover|puppets?|bankers|control)",
    r"cabal",
    r"shadow government",
    r"puppet ?masters?",
    r"pulling (?:the )?strings",
    r"controlled opposition",
    r"psy-?ops?",
    r"inside job",
    r"false[- ]flags?",
    r"chemtrails?",
    r"plandemic|scamdemic",
    r"great reset",
    r"great replacement",
    r"illuminati",
    r"rothschilds?",
    r"soros[- ](?:funded|money|paid|backed|financed|controlled|network|agents?|puppets?)",
    r"soros (?:is |are )?(?:funds|funding|pays|paying|behind|controls|owns|runs|financ\w+)",
    r"reptilians?",
    r"bio-?labs?|bio-?weapons? labs?",
    r"controlled demolition",
    r"(?:secret|hidden) (?:plans?|agendas?|plots?|operations?|government|cabal|elites?)",
    r"behind (?:it all|all (?:of )?this|everything)",
    r"they don'?t want you to know",
    r"wake up,? (?:people|sheeple|folks|everyone)",
    r"sheeple",
    r"(?:all|it'?s all|everything is|was all) (?:planned|scripted|orchestrated|staged)",
    r"population control|depopulation",
    r"agenda (?:21|2030)",
    r"(?:is|are|a|their|just) puppets? (?:of|for)",
    r"puppet (?:government|regime|president|state)",
)

PLOTTERS = (
    r"cia|mi6|mossad|state department|pentagon|nato|soros|wef|davos|bankers|elites?|washington|the west|"
    r"americans|anglo-?saxons|globalists|the jews|zionists|pharma|big pharma"
)

AGENCY_CONTROL: tuple[str, ...] = (
    rf"(?:{PLOTTERS}) (?:is |are |was |were )?(?:secretly |really |actually )?(?:running|behind|"
    r"control(?:s|ling|led)?|pulling|orchestrat\w+|engineer\w+|planned|plans|scripted|staged|ordered|"
    r"direct(?:s|ing|ed))",
    rf"(?:orchestrated|planned|engineered|scripted|run|controlled|directed|ordered|financed|funded|staged) by "
    rf"(?:the )?(?:{PLOTTERS})",
)

CONSPIRACY_DEBUNK: tuple[str, ...] = (
    r"conspiracy (?:theor\w+|nuts?|loons?|brains?)",
    r"tinfoil(?: hats?)?",
    r"debunk\w*",
    r"no evidence",
    r"fact[- ]?check\w*",
    r"crackpots?",
    r"(?:he|she|they|uncle|aunt|dad|mum|mom|father|mother|friend|brother|sister|people|folks|anyone|someone|who) "
    r"(?:still )?(?:believes?|thinks?|swears?|keeps? (?:saying|sending|posting|sharing))",
)

# Topic context: a mass-casualty event or its victims is mentioned. Not a pattern word (see module docstring).
ATROCITY_CONTEXT: tuple[str, ...] = (
    r"bucha|irpin|hostomel|mariupol|kramatorsk|iz[iy]um|hroza|olenivka|okhmatdyt",
    r"srebrenica|ghouta|douma|khan sh\w+|aleppo|houla",
    r"mh ?17",
    r"holocaust|shoah|auschwitz|treblinka|birkenau|gas chambers?|six million|6 million|babi yar|katyn|holodomor",
    r"genocides?|massacres?|atrocit\w+|pogroms?|ethnic cleansing|war crimes?",
    r"mass (?:graves?|shootings?|murders?|killings?|executions?)",
    r"bodies|corpses?|victims|graves|exhum\w+|killings|executions|death toll|casualt\w+",
    r"(?:chemical|gas|sarin|chlorine|terror|terrorist|missile|rocket|air) (?:attacks?|strikes?)",
    r"chemical weapons?|sarin|chlorine|nerve agent|poison gas|gassed|bombings?|shootings?",
    r"maternity hospital|drama theat(?:re|er)|railway station|train station",
    r"sandy hook|parkland|9/?11|twin towers|beslan|armenian genocide|las vegas shooting|ps ?752|mh ?370",
    r"terror(?:ist)? attacks?|(?:london bridge|brussels|paris|nice|manchester|christchurch|bataclan) attacks?",
    r"charlie hebdo|bataclan|(?:euro)?maidan|odess?a (?:fire|massacre|tragedy)|snipers|markale|trnopolje",
    r"white helmets",
)


def normalize(text: str) -> str:
    """Lower-case, NFKC-fold and straighten quotes so lexicon regexes match typographic variants."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


def _compile(fragments: Sequence[str]) -> re.Pattern[str]:
    """One alternation; a match may not start or end inside a word (works for fragments ending in punctuation)."""
    return re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{f})" for f in fragments) + r")(?!\w)")


@dataclass(frozen=True)
class LabelingFunction:
    """A lexicon rule: fires when a trigger matches, every ``requires`` group matches and no ``unless`` does.

    When it fires it votes ``vote`` for ``label``; otherwise it abstains.
    """

    name: str
    label: str
    vote: int
    triggers: tuple[str, ...]
    requires: tuple[tuple[str, ...], ...] = ()
    unless: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.label not in NARRATIVE_LABELS:
            raise ValueError(f"{self.name}: unknown label {self.label!r}")
        if self.vote not in (POSITIVE, NEGATIVE):
            raise ValueError(f"{self.name}: vote must be POSITIVE or NEGATIVE")

    @cached_property
    def _trigger_re(self) -> re.Pattern[str]:
        return _compile(self.triggers)

    @cached_property
    def _requires_re(self) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile(group) for group in self.requires)

    @cached_property
    def _unless_re(self) -> re.Pattern[str] | None:
        return _compile(self.unless) if self.unless else None

    def apply_normalized(self, text: str) -> int:
        """Vote on an already :func:`normalize`-d text."""
        if not self._trigger_re.search(text):
            return ABSTAIN
        if not all(pattern.search(text) for pattern in self._requires_re):
            return ABSTAIN
        if self._unless_re is not None and self._unless_re.search(text):
            return ABSTAIN
        return self.vote

    def __call__(self, text: str) -> int:
        return self.apply_normalized(normalize(text))


_NOT_REPORTED = REPORTING + CONSPIRACY_DEBUNK

LABELING_FUNCTIONS: tuple[LabelingFunction, ...] = (
    LabelingFunction(
        "ad_staged",
        "atrocity_denial",
        POSITIVE,
        STAGING,
        requires=(ATROCITY_CONTEXT,),
        unless=_NOT_REPORTED,
        description="staging/fabrication vocabulary next to a mass-casualty event, not reported or debunked",
    ),
    LabelingFunction(
        "ad_false_flag",
        "atrocity_denial",
        POSITIVE,
        FALSE_FLAG,
        requires=(ATROCITY_CONTEXT,),
        unless=_NOT_REPORTED,
        description="false flag / the victims' side did it to itself, next to a mass-casualty event",
    ),
    LabelingFunction(
        "ad_never_happened",
        "atrocity_denial",
        POSITIVE,
        DENIAL,
        requires=(ATROCITY_CONTEXT,),
        unless=_NOT_REPORTED,
        description="outright denial: it never happened, nobody died, no gas chambers",
    ),
    LabelingFunction(
        "ad_minimise",
        "atrocity_denial",
        POSITIVE,
        MINIMISE,
        requires=(ATROCITY_CONTEXT,),
        unless=_NOT_REPORTED,
        description="minimisation: only a few died, the toll was inflated",
    ),
    LabelingFunction(
        "ad_reported_or_debunked",
        "atrocity_denial",
        NEGATIVE,
        REPORTING + CONSPIRACY_DEBUNK,
        requires=(STAGING + FALSE_FLAG + DENIAL + MINIMISE, ATROCITY_CONTEXT),
        description="denial vocabulary inside a report, quote or debunk (guidelines: reporting is not denial)",
    ),
    LabelingFunction(
        "ad_grief_or_accountability",
        "atrocity_denial",
        NEGATIVE,
        GRIEF,
        requires=(ATROCITY_CONTEXT,),
        description="grief, condolences or calls for accountability about an event",
    ),
    LabelingFunction(
        "cs_plot_vocabulary",
        "conspiracy",
        POSITIVE,
        CONSPIRACY_PLOT,
        unless=_NOT_REPORTED,
        description="secret-plot vocabulary (deep state, globalists, inside job, chemtrails...), not reported",
    ),
    LabelingFunction(
        "cs_hidden_controller",
        "conspiracy",
        POSITIVE,
        AGENCY_CONTROL,
        unless=_NOT_REPORTED,
        description="a named group secretly runs, orchestrates or stages events",
    ),
    LabelingFunction(
        "cs_false_flag_event",
        "conspiracy",
        POSITIVE,
        FALSE_FLAG,
        requires=(ATROCITY_CONTEXT,),
        unless=_NOT_REPORTED,
        description="a false-flag claim about an event is a covert coordinated operation claim",
    ),
    LabelingFunction(
        "cs_debunked",
        "conspiracy",
        NEGATIVE,
        CONSPIRACY_DEBUNK,
        description="the text calls something a conspiracy theory, debunked or tinfoil",
    ),
)


def labeling_functions(label: str | None = None) -> tuple[LabelingFunction, ...]:
    """All LFs, or the LFs voting on one label."""
    if label is None:
        return LABELING_FUNCTIONS
    if label not in NARRATIVE_LABELS:
        raise ValueError(f"unknown narrative label {label!r}")
    return tuple(lf for lf in LABELING_FUNCTIONS if lf.label == label)


def apply_lfs(texts: Iterable[str], lfs: Sequence[LabelingFunction] = LABELING_FUNCTIONS) -> np.ndarray:
    """Label matrix ``L`` of shape [N, len(lfs)], int8, with ``L[i, j]`` the vote of LF j on text i (-1 = abstain)."""
    normalized = [normalize(text) if isinstance(text, str) else "" for text in texts]
    matrix = np.full((len(normalized), len(lfs)), ABSTAIN, dtype=np.int8)
    for j, lf in enumerate(lfs):
        for i, text in enumerate(normalized):
            matrix[i, j] = lf.apply_normalized(text)
    return matrix


def lf_report(
    matrix: np.ndarray,
    lfs: Sequence[LabelingFunction] = LABELING_FUNCTIONS,
    gold: dict[str, Sequence[int]] | None = None,
) -> pd.DataFrame:
    """Per-LF coverage, overlap and conflict rates (Snorkel's definitions), among LFs voting on the same label.

    - coverage: share of texts on which the LF votes;
    - overlap: share of texts on which it votes and another LF of the same label votes too;
    - conflict: share of texts on which it votes and another LF of the same label votes differently.

    With ``gold`` (label -> 0/1 per text), adds ``accuracy`` of the LF's votes where it votes.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[1] != len(lfs):
        raise ValueError(f"matrix shape {matrix.shape} does not match {len(lfs)} labeling functions")
    n = max(matrix.shape[0], 1)
    rows = []
    for j, lf in enumerate(lfs):
        votes = matrix[:, j]
        fires = votes != ABSTAIN
        others = [k for k, other in enumerate(lfs) if k != j and other.label == lf.label]
        other_votes = matrix[:, others] if others else np.full((matrix.shape[0], 0), ABSTAIN)
        other_fires = other_votes != ABSTAIN
        overlap = fires & other_fires.any(axis=1)
        conflict = fires & (other_fires & (other_votes != votes[:, None])).any(axis=1)
        row = {
            "lf": lf.name,
            "label": lf.label,
            "vote": lf.vote,
            "fires": int(fires.sum()),
            "coverage": fires.sum() / n,
            "overlap": overlap.sum() / n,
            "conflict": conflict.sum() / n,
        }
        if gold is not None and lf.label in gold:
            truth = np.asarray(gold[lf.label])
            row["accuracy"] = float((truth[fires] == votes[fires]).mean()) if fires.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def majority_vote(matrix: np.ndarray, label: str, lfs: Sequence[LabelingFunction] = LABELING_FUNCTIONS) -> np.ndarray:
    """Per-text majority of the LFs voting on ``label``: 1, 0, or -1 when none vote or the vote is tied."""
    columns = [j for j, lf in enumerate(lfs) if lf.label == label]
    if not columns:
        raise ValueError(f"no labeling functions vote on {label!r}")
    sub = np.asarray(matrix)[:, columns]
    positives = (sub == POSITIVE).sum(axis=1)
    negatives = (sub == NEGATIVE).sum(axis=1)
    out = np.full(sub.shape[0], ABSTAIN, dtype=np.int8)
    out[positives > negatives] = POSITIVE
    out[negatives > positives] = NEGATIVE
    return out


def pattern_words(lfs: Sequence[LabelingFunction] = LABELING_FUNCTIONS) -> tuple[str, ...]:
    """Every trigger and guard pattern the LFs use (regex fragments), sorted, without topic context patterns."""
    fragments: set[str] = set()
    for lf in lfs:
        fragments.update(lf.triggers)
        fragments.update(lf.unless)
        # ``requires`` groups that are other LFs' triggers (e.g. the reporting LF requires staging words) are
        # pattern words too; plain topic context is not.
        for group in lf.requires:
            if group != ATROCITY_CONTEXT:
                fragments.update(group)
    return tuple(sorted(fragments))


_PATTERN_RE = _compile(pattern_words())


def has_pattern_word(text: str) -> bool:
    """True when the text contains any LF pattern word."""
    return bool(_PATTERN_RE.search(normalize(text)))


def pattern_free_mask(texts: Iterable[str]) -> np.ndarray:
    """Boolean mask of texts that contain none of the LF pattern words (the 'pattern-free' evaluation subset)."""
    return np.array([not has_pattern_word(text) for text in texts], dtype=bool)


_CONTEXT_RE = _compile(ATROCITY_CONTEXT)


def atrocity_context(text: str) -> bool:
    """True when the text mentions a mass-casualty event or its victims (topic context, not a claim)."""
    return bool(_CONTEXT_RE.search(normalize(text)))


_DENIAL_VOCABULARY_RE = _compile(STAGING + FALSE_FLAG + DENIAL + MINIMISE)
_PLOT_VOCABULARY_RE = _compile(CONSPIRACY_PLOT + AGENCY_CONTROL)


def lf_columns(texts: Sequence[str]) -> pd.DataFrame:
    """Columns the dataset loaders attach for the label rules in the training config.

    - ``lf_atrocity_denial``, ``lf_conspiracy``: the LF majority votes (1/0/-1);
    - ``denial_vocabulary``, ``plot_vocabulary``: a positive LF's trigger occurs, whatever the context or
      reporting guards say (for sources whose tags already establish the topic);
    - ``narrative_pattern``: any pattern word occurs; ``atrocity_context``: a mass-casualty event is mentioned.
    """
    texts = [text if isinstance(text, str) else "" for text in texts]
    matrix = apply_lfs(texts)
    normalized = [normalize(text) for text in texts]
    return pd.DataFrame(
        {
            "lf_atrocity_denial": majority_vote(matrix, "atrocity_denial"),
            "lf_conspiracy": majority_vote(matrix, "conspiracy"),
            "denial_vocabulary": [bool(_DENIAL_VOCABULARY_RE.search(t)) for t in normalized],
            "plot_vocabulary": [bool(_PLOT_VOCABULARY_RE.search(t)) for t in normalized],
            "narrative_pattern": [bool(_PATTERN_RE.search(t)) for t in normalized],
            "atrocity_context": [bool(_CONTEXT_RE.search(t)) for t in normalized],
        }
    )
