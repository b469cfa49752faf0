-- Run once by the postgres image when its volume is new: pluralmatrix's own user and
-- database on the same server as Synapse's (pluralmatrix creates its tables at its first start).
CREATE USER pluralmatrix PASSWORD 'pluralmatrix';
CREATE DATABASE pluralmatrix OWNER pluralmatrix ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
