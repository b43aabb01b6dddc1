// The pages' strings, through Django's JavaScriptCatalog (/jsi18n/, a
// deferred script that runs before every module). Modules call gettext()
// and ngettext() by those names so that `makemessages -d djangojs` finds them.
const catalog = window;

export const gettext = catalog.gettext || ((text) => text);
export const ngettext =
  catalog.ngettext || ((singular, plural, count) => (count === 1 ? singular : plural));

// format("%(name)s is typing", { name }) with named placeholders.
export function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));
}

// The page's language (<html lang>), for dates and times.
export const locale = document.documentElement.lang || undefined;
