// The wikitext cleaner, construct by construct: what a reader sees, and nothing else.
#include <bg2vec/text/html_entities.hpp>
#include <bg2vec/text/wikitext.hpp>

#include <doctest/doctest.h>

namespace test_wikitext {

using bg2vec::text::clean_wikitext;

TEST_CASE("plain prose passes through; paragraphs are lines") {
  CHECK(clean_wikitext("София е столицата на България.") == "София е столицата на България.");
  CHECK(clean_wikitext("Първи ред\nпродължава.\n\nВтори абзац.") == "Първи ред продължава.\nВтори абзац.");
}

TEST_CASE("templates are removed, nested and with templates in their parameters") {
  CHECK(clean_wikitext("А{{цитат|x}}Б") == "АБ");
  CHECK(clean_wikitext("А {{Инфокутия|име={{lang|en|X}}|карта={{Карта|{{{1}}}|a={{b|{{c}}}}}}}} Б") == "А Б");
  CHECK(clean_wikitext("{{Инфокутия\n| име = София\n| население = 1 300 000\n}}\nСофия е град.") == "София е град.");
  CHECK(clean_wikitext("x {{{параметър|по подразбиране}}} y") == "x y");
}

TEST_CASE("templates that only wrap text keep the text") {
  CHECK(clean_wikitext("„AD“ ({{lang-la|1=Anno Domini}})") == "„AD“ (Anno Domini)");
  CHECK(clean_wikitext("{{lang|en|Gregorian calendar}} е") == "Gregorian calendar е");
  CHECK(clean_wikitext("{{nowrap|10 km}}") == "10 km");
}

TEST_CASE("tables are removed, also nested and with templates inside") {
  CHECK(clean_wikitext("Преди.\n{| class=\"wikitable\"\n|-\n! Месец !! Дни\n|-\n| януари || 31\n|}\nСлед.") ==
        "Преди.\nСлед.");
  CHECK(clean_wikitext("А\n{|\n| {{x|}}\n|\n{|\n| вложена\n|}\n|}\nБ") == "А\nБ");
}

TEST_CASE("internal links become their text") {
  CHECK(clean_wikitext("[[Земя]]та и [[Слънце|Слънцето]]") == "Земята и Слънцето");
  CHECK(clean_wikitext("[[:Категория:Календари]]") == "Категория:Календари");
  CHECK(clean_wikitext("[[Уикипедия:Правила|правилата]]") == "правилата");
}

TEST_CASE("files, images, categories and interlanguage links are removed, in Bulgarian and English") {
  CHECK(clean_wikitext("А[[Файл:Map.png|мини|Карта с [[град]]ове]]Б") == "АБ");
  CHECK(clean_wikitext("А[[Картинка:X.jpg]]Б[[File:Y.svg|thumb|Y]]В[[Image:Z.gif]]Г") == "АБВГ");
  CHECK(clean_wikitext("Текст.\n[[Категория:Календари]]\n[[Category:Calendars]]") == "Текст.");
  CHECK(clean_wikitext("[[en:Gregorian calendar]][[de:Gregorianischer Kalender]][[zh-min-nan:X]]Текст") ==
        "Текст");
  CHECK(clean_wikitext("[[категория:малки букви]]Текст") == "Текст");
}

TEST_CASE("references, comments, math and galleries are removed with their content") {
  CHECK(clean_wikitext("Факт.<ref name=\"a\">{{cite web|url=http://x}} Източник</ref> Още.") == "Факт. Още.");
  CHECK(clean_wikitext("Факт.<ref name=\"a\" /> Още.<REF>x</REF>") == "Факт. Още.");
  CHECK(clean_wikitext("А<!-- скрито [[x]] {{y}} -->Б") == "АБ");
  CHECK(clean_wikitext("Формула <math>e^{i\\pi}+1=0</math> тук.") == "Формула тук.");
  CHECK(clean_wikitext("А\n<gallery>\nFile:A.jpg|a\n</gallery>\nБ") == "А\nБ");
  CHECK(clean_wikitext("А\n== Източници ==\n<references />") == "А\nИзточници");
}

TEST_CASE("other HTML tags are removed and their content kept") {
  CHECK(clean_wikitext("H<sub>2</sub>O е <span style=\"color:red\">вода</span>.") == "H2O е вода.");
  CHECK(clean_wikitext("ред<br />друг<br>трети") == "ред друг трети");
  CHECK(clean_wikitext("a < b и c > d") == "a < b и c > d");
}

TEST_CASE("bold and italic quotes are removed; a lone apostrophe stays") {
  CHECK(clean_wikitext("'''Григорианският календар''' е ''слънчев'' и '''''много''''' точен.") ==
        "Григорианският календар е слънчев и много точен.");
  CHECK(clean_wikitext("O'Brien") == "O'Brien");
}

TEST_CASE("headings and list items are lines of their own") {
  CHECK(clean_wikitext("Увод.\n== Описание ==\nТекст.\n=== Подраздел ===") == "Увод.\nОписание\nТекст.\nПодраздел");
  CHECK(clean_wikitext("Дни:\n* понеделник;\n* вторник.\n# първо\n: отстъп\n; термин") ==
        "Дни:\nпонеделник;\nвторник.\nпърво\nотстъп\nтермин");
}

TEST_CASE("external links keep their label; a bare bracketed url vanishes") {
  CHECK(clean_wikitext("Виж [http://example.org Сайтът на проекта] и [https://x.bg].") ==
        "Виж Сайтът на проекта и .");
  CHECK(clean_wikitext("[обикновени скоби] остават") == "[обикновени скоби] остават");
}

TEST_CASE("HTML entities are decoded; no-break spaces become spaces") {
  CHECK(clean_wikitext("10&nbsp;km &ndash; 5&#160;m &#x2014; &lt;x&gt; &amp; &unknown;") ==
        "10 km – 5 m — <x> & &unknown;");
  CHECK(bg2vec::text::decode_html_entities("&nbsp;") == "\u00A0");
  CHECK(bg2vec::text::decode_html_entities("&#0; &#xD800; &#99999999;") == "\uFFFD \uFFFD &#99999999;");
}

TEST_CASE("magic words, rules and empty parentheses left by removed templates vanish") {
  CHECK(clean_wikitext("__TOC__\nА\n----\nБ __NOTOC__") == "А\nБ");
  CHECK(clean_wikitext("Иван Вазов ({{роден|1850}}) е писател.") == "Иван Вазов е писател.");
}

TEST_CASE("<nowiki> content is text: braces, brackets and pipes in it are not markup") {
  CHECK(clean_wikitext("Пишете <nowiki>{{шаблон|x}}</nowiki> и [[връзка]].") == "Пишете {{шаблон|x}} и връзка.");
  CHECK(clean_wikitext("Отваря с <nowiki>{{</nowiki>.\n\nСледващ абзац.") == "Отваря с {{.\nСледващ абзац.");
  CHECK(clean_wikitext("Код <NoWiki>[[не е връзка]] <b>x</b></NoWiki> край") == "Код [[не е връзка]] <b>x</b> край");
  CHECK(clean_wikitext("Празно<nowiki/>слято") == "Празнослято");
}

TEST_CASE("unbalanced markup: an unclosed link stays as written, an unclosed template ends the text") {
  CHECK(clean_wikitext("А [[незатворена връзка") == "А [[незатворена връзка");
  CHECK(clean_wikitext("А }} Б") == "А }} Б");
  CHECK(clean_wikitext("А\n{{незатворен шаблон\nБ") == "А");
  CHECK(clean_wikitext("") == "");
}

}  // namespace test_wikitext
