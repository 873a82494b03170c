"""Sentence segmentation (publisher.segment): exactly pysbd's sentences, faster."""

from publisher import segment
from publisher.parse import parse_book
from publisher.source import read_manuscript

from .helpers import write_book


def test_segmentation_shortcuts_give_pysbd_sentences(tmp_path):
    """The filtered, span-free segmentation gives what pysbd's own segment() gives."""
    import random

    import pysbd

    words = ("is me co Co. St. Dr. etc. e.g. i.e. U.S. no. 5 12.5 a) (c) ii. fig. Mr. "
             "İd. ſt. hello world , ; : ! ? ... “quoted” ’s - — x.y 3:45 a.m. Ph.D. OK.").split()
    rng = random.Random(3)
    for language in ("en", "fr", "de", "ar", "el"):
        segmenter = pysbd.Segmenter(language=language, clean=False)
        for _ in range(300):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
            expected = [p.strip() for p in segmenter.segment(text)]
            pieces = [p.strip() for p in segment.segment(segmenter, text)]
            # segment() drops pieces it cannot find in the text again; so does the walk.
            assert [p for p in pieces if p in text] == [p for p in expected if p], text


def test_a_long_book_parses_the_same_with_a_helper_process(tmp_path, monkeypatch):
    body = "".join(f"## Part {i}\n\nDr. Smith said no. 5 was fine, e.g. here. Then more? "
                   f"Yes! Item {i} ends.\n\n- a list item {i}\n- another one.\n\n"
                   for i in range(60))
    manuscript = read_manuscript(write_book(tmp_path, body))
    alone = parse_book(manuscript)
    monkeypatch.setattr(segment, "HELPER_MIN_CHARS", 0)
    helped = parse_book(manuscript)
    assert helped == alone
