package pgvalue

import "testing"

func TestRegistryBuiltins(t *testing.T) {
	var zero Registry
	for _, r := range []*Registry{NewRegistry(), &zero} {
		if typ := r.Lookup(23); typ.Kind != Base || typ.Name != "int4" {
			t.Errorf("Lookup(23) = %+v, want base int4", typ)
		}
		arr := r.Lookup(1007)
		if arr.Kind != Array || arr.Elem == nil || arr.Elem.OID != 23 {
			t.Errorf("Lookup(1007) = %+v, want array of int4", arr)
		}
		if box := r.Lookup(1020); box.Kind != Array || box.Delim != ';' || box.Elem.Delim != ';' {
			t.Errorf("Lookup(1020) = %+v, want _box with delimiter ';'", box)
		}
		if typ := r.Lookup(3904); typ.Kind != Range {
			t.Errorf("Lookup(3904) = %+v, want range", typ)
		}
		if typ := r.Lookup(22); typ.Kind != Base {
			t.Errorf("Lookup(22) (int2vector) = %+v, want base: its text is not an array literal", typ)
		}
		u := r.Lookup(123456789)
		if u == nil || u.Kind != Unknown || u.OID != 123456789 {
			t.Errorf("Lookup(unknown) = %+v, want a Type of kind unknown", u)
		}
		if r.Known(123456789) || !r.Known(1184) {
			t.Error("Known is wrong")
		}
	}
	// Every built-in array has an element type that is known, and every
	// converter OID is in the table.
	for _, typ := range builtinTypes {
		if typ.Kind == Array && (typ.Elem == nil || typ.Elem.Kind == Unknown) {
			t.Errorf("built-in array %s has no known element type", typ.Name)
		}
	}
	for _, oid := range []uint32{oidBool, oidBytea, oidInt8, oidInt2, oidInt4, oidOID, oidXID, oidCID,
		oidFloat4, oidFloat8, oidMoney, oidTimestamp, oidTimestamptz, oidTimetz, oidXID8} {
		if typ := builtinTypes[oid]; typ == nil || typ.Kind != Base {
			t.Errorf("converter OID %d is not a built-in base type", oid)
		}
	}
}

func TestKindString(t *testing.T) {
	if Domain.String() != "domain" || Kind(200).String() != "kind(200)" || Unknown.String() != "unknown" {
		t.Error("Kind.String is wrong")
	}
}
