package pgvalue

import "strconv"

// Kind is the kind of a PostgreSQL type, as pg_type.typtype tells it, with
// arrays told apart from other base types.
type Kind uint8

// The kinds of PostgreSQL types. The zero Kind is Unknown.
const (
	Unknown    Kind = iota // not in the Registry: the value is emitted as its text
	Base                   // a base type (typtype 'b'), not an array
	Array                  // an array type: Elem is the element type
	Enum                   // an enum (typtype 'e')
	Domain                 // a domain (typtype 'd'): Base is the underlying type
	Range                  // a range (typtype 'r')
	Multirange             // a multirange (typtype 'm')
	Composite              // a composite / row type (typtype 'c')
	Pseudo                 // a pseudo-type (typtype 'p'), such as record
)

var kindNames = [...]string{"unknown", "base", "array", "enum", "domain", "range", "multirange", "composite", "pseudo"}

// String returns the lower-case name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Type describes a PostgreSQL type well enough to convert its text form.
// Types handed out by a Registry are shared and must not be modified.
type Type struct {
	OID  uint32
	Name string // pg_type.typname, such as "int4" or "_int4"
	Kind Kind
	Elem *Type // the element type, for Kind Array
	Base *Type // the underlying type, for Kind Domain
	// Delim is pg_type.typdelim: the character that separates elements in
	// the text form of an array of this type. It is ',' for every built-in
	// type but box (';'). PostgreSQL copies it to the array type, so an
	// Array's Delim is the one its text form uses; 0 means ','.
	Delim byte
}

// String returns t's name, or "oid <n>" when it has none.
func (t *Type) String() string {
	if t == nil {
		return "<nil>"
	}
	if t.Name != "" {
		return t.Name
	}
	return "oid " + strconv.FormatUint(uint64(t.OID), 10)
}
