-- How a ghost's display name is made from the member's name and the system tag
-- (PluralKit's `name_format`, `{name}` and `{tag}`); NULL is "{name} {tag}".
ALTER TABLE systems ADD COLUMN name_format TEXT;
