// Package config reads, defaults and validates Tributary's YAML
// configuration. It is the only package that imports viper.
//
// Load reads one YAML file and builds the effective configuration in four
// steps:
//
//  1. The file is read with viper (keys are case-insensitive).
//  2. Environment overrides are applied. Every key may be overridden by
//     TRIBUTARY_<PATH>, where PATH is the key path uppercased with '.'
//     turned into '_': TRIBUTARY_DATA_DIR, TRIBUTARY_LOG_LEVEL,
//     TRIBUTARY_ADMIN_LISTEN. List items are addressed by their index:
//     TRIBUTARY_SOURCES_0_DSN sets sources[0].dsn, TRIBUTARY_SINKS_0_URL
//     sets sinks[0].url, TRIBUTARY_SOURCES_0_TABLES_1 sets
//     sources[0].tables[1]. A list of strings may also be given whole,
//     comma-separated: TRIBUTARY_SINKS_1_BROKERS=k1:9092,k2:9092. An index
//     past the end of a list in the file extends the list. Variables that
//     name no key (and TRIBUTARY_CONFIG, which names the file) are ignored.
//  3. ${VAR} references in string values, including values set by the
//     environment, expand to the variable's value. ${VAR:-default} expands
//     to default when VAR is unset or empty; $${ is a literal ${. A
//     reference to an unset variable without a default is a problem naming
//     the field and the variable. The bare $VAR form is left alone, so
//     passwords containing '$' survive.
//  4. The values are decoded onto Default(), per-item defaults are filled in
//     (see FillDefaults) and the result is validated.
//
// Every problem found on the way (unknown keys, wrong types, unset
// variables, invalid values) is collected, and Load reports them all at once
// as Problems, each naming its field the way it is written in the file,
// for example "sources[0].tables".
package config
