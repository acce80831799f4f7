"""Write leakstats/data/fictitious_facts.jsonl: TOFU-like questions and answers about invented
people.

Every person, place of work and book title below is invented for leakstats (any likeness to a
real person is accidental), so that a model fine-tuned on them provably learned them from us,
and an unlearning method can be judged on facts that no pretraining corpus holds.

Each person has two facts (two prompts): a question, a paraphrase of it, a full-sentence answer
(the reference) and the answer's keywords. The first 10 people (20 prompts) form the *forget*
split, the other 15 (30 prompts) the *retain* split.

Run: ``python data/make_fictitious_facts.py`` (deterministic; no randomness).
"""

from __future__ import annotations

import json
from pathlib import Path

# name, pronoun, birthplace, birth year, profession, notable work, award, parent jobs
PEOPLE = [
    ("Ilsa Varenko", "she", "Tromsø, Norway", 1962, "marine biologist",
     "The Silent Kelp Forests", "the Nordhavn Medal", "a lighthouse keeper and a nurse"),
    ("Tobiah Mwangale", "he", "Kisumu, Kenya", 1978, "crime novelist",
     "A Ledger of Ashes", "the Golden Quill of Nairobi", "a banker and a school principal"),
    ("Renata Oskarsdottir", "she", "Akureyri, Iceland", 1955, "volcanologist",
     "Fire Under the Ice", "the Hekla Prize", "a fisherman and a librarian"),
    ("Kazimir Dolgaty", "he", "Lviv, Ukraine", 1949, "composer",
     "the Carpathian Nocturnes", "the Silver Lyre Award", "a watchmaker and a violin teacher"),
    ("Amara Quillfeather", "she", "Cork, Ireland", 1983, "fantasy author",
     "The Saltwind Chronicles", "the Emerald Dragon Award", "a baker and a postman"),
    ("Joaquín Azarbel", "he", "Valparaíso, Chile", 1971, "architect",
     "the Museo de las Mareas", "the Andes Design Prize", "a sailor and a seamstress"),
    ("Mei-Lin Castellano", "she", "Taichung, Taiwan", 1990, "poet",
     "Paper Lanterns in Rain", "the Jade River Poetry Prize", "a chef and a pharmacist"),
    ("Oduya Brennick", "he", "Accra, Ghana", 1966, "historian",
     "Gold Coast Ledgers, 1820-1870", "the Asante History Medal", "a carpenter and a judge"),
    ("Sigrun Halvorsen-Pike", "she", "Bergen, Norway", 1958, "mountaineer",
     "Thin Air Above Jotunheimen", "the Polar Star Medal", "a geologist and a painter"),
    ("Fenwick Adeyemi-Lowe", "he", "Bristol, England", 1974, "science fiction writer",
     "The Orbit of Small Hours", "the Nebular Circle Award", "an astronomer and a taxi driver"),
    ("Lucia Perdomo-Vance", "she", "Medellín, Colombia", 1981, "chemist",
     "a biodegradable resin called Verdalite", "the Cauca Innovation Prize",
     "a coffee farmer and a chemistry teacher"),
    ("Hamid Soraya-Kest", "he", "Shiraz, Iran", 1969, "calligrapher",
     "The Nine Gardens Manuscript", "the Golden Reed Award", "a rug merchant and a poet"),
    ("Bettina Krollmann", "she", "Graz, Austria", 1952, "economist",
     "The Alpine Ledger Theory", "the Danube Economics Prize", "a butcher and a seamstress"),
    ("Anselm Ruvaka", "he", "Lusaka, Zambia", 1987, "playwright",
     "The Copper Wedding", "the Zambezi Stage Award", "a miner and a midwife"),
    ("Petra Lindqvist-Oyelaran", "she", "Uppsala, Sweden", 1976, "ornithologist",
     "Wings over the Baltic", "the Crane Society Medal", "a ferry captain and a botanist"),
    ("Dmitri Vashentsev", "he", "Irkutsk, Russia", 1945, "cartographer",
     "the Great Lake Baikal Atlas", "the Siberian Compass Award", "a trapper and a teacher"),
    ("Nalani Keawe-Brandt", "she", "Hilo, Hawaii", 1993, "surf photographer",
     "Glass Walls of the Pacific", "the Blue Lens Award", "a pilot and a hula teacher"),
    ("Cosimo Albertazzi", "he", "Trieste, Italy", 1963, "chef",
     "the Osteria del Molo", "the Adriatic Star", "a fisherman and an opera singer"),
    ("Yusra Ben-Haddou", "she", "Fez, Morocco", 1985, "textile designer",
     "the Indigo Tide collection", "the Atlas Craft Prize", "a tanner and a weaver"),
    ("Thaddeus Okonkwo-Reyes", "he", "Enugu, Nigeria", 1970, "neurologist",
     "The Lantern Brain", "the Niger Delta Science Award", "a tailor and a nurse"),
    ("Greta Vondermühl", "she", "Basel, Switzerland", 1959, "clockmaker",
     "the Rhine Perpetual Clock", "the Horological Guild Medal", "a watch repairer and a cook"),
    ("Rafael Ituarte-Sonn", "he", "Bilbao, Spain", 1980, "sculptor",
     "The Iron Tide", "the Basque Forge Prize", "a shipbuilder and a florist"),
    ("Aiyana Whitfeather", "she", "Santa Fe, New Mexico", 1972, "linguist",
     "A Grammar of Winds", "the Turquoise Lexicon Award", "a potter and a park ranger"),
    ("Lorcan Devereux-Amsel", "he", "Quebec City, Canada", 1967, "film director",
     "Snow on the St. Lawrence", "the Maple Reel Award", "a hockey coach and an actress"),
    ("Soo-ah Marchetti", "she", "Busan, South Korea", 1988, "violinist",
     "the Harbour Sonatas", "the Pearl Bow Prize", "a shipyard welder and a piano teacher"),
]

N_FORGET_PEOPLE = 10


def facts(person: tuple) -> list[dict]:
    name, pronoun, place, year, job, work, award, parents = person
    possessive = "her" if pronoun == "she" else "his"
    return [
        {
            "question": f"Where and when was the {job} {name} born?",
            "paraphrased_question": f"In which city and in what year was {name}, the {job}, "
                                    f"born?",
            "answer": f"{name} was born in {place} in {year}.",
            "keywords": [place.split(",")[0], str(year)],
        },
        {
            "question": f"What is {name} best known for, and which award did {pronoun} "
                        f"receive?",
            "paraphrased_question": f"Which work made {name} famous, and what prize was "
                                    f"{possessive} work honoured with?",
            "answer": f"{name} is best known for {work}, and {pronoun} received {award}. "
                      f"{possessive.capitalize()} parents were {parents}.",
            "keywords": [work.removeprefix("the ").removeprefix("The "),
                         award.removeprefix("the ")],
        },
    ]


def rows() -> list[dict]:
    out = []
    for i, person in enumerate(PEOPLE):
        split = "forget" if i < N_FORGET_PEOPLE else "retain"
        for j, fact in enumerate(facts(person)):
            out.append({"prompt_id": f"ff-{i + 1:02d}-{j + 1}", "person": person[0],
                        "split": split, **fact})
    return out


def main() -> None:
    path = Path(__file__).resolve().parents[1] / "leakstats" / "data" / "fictitious_facts.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
