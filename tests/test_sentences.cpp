// The Bulgarian sentence splitter and the SimCSE units made with it.
#include <bg2vec/data/simcse_units.hpp>
#include <bg2vec/text/sentences.hpp>

#include <doctest/doctest.h>
#include <fstream>
#include <unistd.h>

namespace test_sentences {

namespace fs = std::filesystem;
using namespace bg2vec::text;
using Sentences = std::vector<std::string_view>;

TEST_CASE("sentences end at . ! ? and … before a capital, a digit, a quote or a dash") {
  CHECK(split_sentences("София е столица. Пловдив е стар град! Къде е Варна? Там… Край.") ==
        Sentences{"София е столица.", "Пловдив е стар град!", "Къде е Варна?", "Там…", "Край."});
  CHECK(split_sentences("Той каза: „Идвам.“ После тръгна.") == Sentences{"Той каза: „Идвам.“", "После тръгна."});
  CHECK(split_sentences("Година 1990. 2000 години по-късно.") == Sentences{"Година 1990.", "2000 години по-късно."});
  CHECK(split_sentences("Край. – Да, каза той.") == Sentences{"Край.", "– Да, каза той."});
}

TEST_CASE("no boundary before a lower-case word") {
  CHECK(split_sentences("Това е... интересно. Нали?") == Sentences{"Това е... интересно.", "Нали?"});
  CHECK(split_sentences("Какво? не знам.") == Sentences{"Какво? не знам."});
}

TEST_CASE("abbreviations do not end sentences: г., в., т.е., др., гр., ул., проф.") {
  CHECK(split_sentences("Роден е през 1850 г. Във Видин учи.") == Sentences{"Роден е през 1850 г. Във Видин учи."});
  CHECK(split_sentences("Пише във в. Труд и др. Издания.") == Sentences{"Пише във в. Труд и др. Издания."});
  CHECK(split_sentences("Учи в гр. Пловдив, ул. Гладстон, при проф. Иванов. Завършва.") ==
        Sentences{"Учи в гр. Пловдив, ул. Гладстон, при проф. Иванов.", "Завършва."});
  CHECK(split_sentences("Четири века, т.е. Четиристотин години. Да.") ==
        Sentences{"Четири века, т.е. Четиристотин години.", "Да."});
}

TEST_CASE("initials, list numbers and decimal numbers do not end sentences") {
  CHECK(split_sentences("Писател е Й. Йовков. Роден е в Жеравна.") ==
        Sentences{"Писател е Й. Йовков.", "Роден е в Жеравна."});
  CHECK(split_sentences("Президент е Дж. Буш. Така.") == Sentences{"Президент е Дж. Буш.", "Така."});
  CHECK(split_sentences("Авторът A. B. Smith пише. Да.") == Sentences{"Авторът A. B. Smith пише.", "Да."});
  CHECK(split_sentences("Стойността е 3.5 или 365,2425. Датата 31.III.1916 г. е важна.") ==
        Sentences{"Стойността е 3.5 или 365,2425.", "Датата 31.III.1916 г. е важна."});
  CHECK(split_sentences("Класиране: 1. Иван 2. Петър") == Sentences{"Класиране: 1. Иван 2. Петър"});
}

TEST_CASE("a newline always ends a sentence; spaces are trimmed") {
  CHECK(split_sentences("  Заглавие\nТекст без точка  \n\nОще") == Sentences{"Заглавие", "Текст без точка", "Още"});
  CHECK(split_sentences("").empty());
}

TEST_CASE("malformed UTF-8 is carried through, never read past the end") {
  // A stray continuation byte, a lead byte cut short by a space, and a lead byte as the very last byte.
  const std::string text = "Край\x80. Нов \xD0 път. Пак\xD0";
  CHECK(split_sentences(text) == Sentences{"Край\x80.", "Нов \xD0 път.", "Пак\xD0"});
}

TEST_CASE("SimCSE units: sentences within the length limits, counted in characters, not bytes") {
  const std::string long_unit = std::string(69, 'x') + ".";
  const std::string text = "Кратко. Това изречение е достатъчно дълго за единица. Описание\n" + long_unit;
  SentenceOptions limits;
  limits.min_chars = 20;
  limits.max_chars = 69;
  CHECK(simcse_units(text, limits) == Sentences{"Това изречение е достатъчно дълго за единица."});
  limits.max_chars = 70;
  CHECK(simcse_units(text, limits) == Sentences{"Това изречение е достатъчно дълго за единица.", long_unit});
  limits.min_chars = 46;                       // the Cyrillic sentence: 45 characters, 83 bytes
  CHECK(simcse_units(text, limits) == Sentences{long_unit});
  CHECK(utf8_length("Ъгъл") == 4);
}

TEST_CASE("write_simcse_units: one unit per line, each once, excluded articles skipped") {
  const fs::path dir = fs::temp_directory_path() / ("bg2vec-test-sentences-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "articles.jsonl");
    out << article_json_line({"1", "А", "Първото изречение е достатъчно дълго. Общо изречение за всички статии."});
    out << article_json_line({"2", "Б", "Общо изречение за всички статии. Второто изречение също е дълго."});
    out << article_json_line({"3", "В", "Третата статия е изключена от корпуса."});
  }
  bg2vec::data::SentenceFileOptions options;
  options.limits.min_chars = 20;
  options.exclude = {"3"};
  options.progress = false;
  const auto stats = bg2vec::data::write_simcse_units(dir / "articles.jsonl", dir / "s.txt", options);
  CHECK(stats.units == 3);
  CHECK(stats.duplicates == 1);
  std::ifstream in(dir / "s.txt");
  const std::string all{std::istreambuf_iterator<char>(in), {}};
  CHECK(all == "Първото изречение е достатъчно дълго.\nОбщо изречение за всички статии.\n"
               "Второто изречение също е дълго.\n");
  options.limits.min_chars = 100;
  options.limits.max_chars = 10;
  CHECK_THROWS_AS(bg2vec::data::write_simcse_units(dir / "articles.jsonl", dir / "s.txt", options), bg2vec::Error);
  fs::remove_all(dir);
}

}  // namespace test_sentences
