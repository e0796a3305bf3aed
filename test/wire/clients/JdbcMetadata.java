import java.sql.*;
import java.util.*;

// What a GUI tool (DBeaver, DataGrip, SQuirreL) asks pgJDBC's DatabaseMetaData for, on objects made here;
// prints key=value lines (each list sorted). test/wire/clients.test.ts runs it on pyglite and PostgreSQL 15.
public class JdbcMetadata {
  static String rows(ResultSet rs, String... cols) throws SQLException {
    List<String> out = new ArrayList<>();
    while (rs.next()) {
      StringBuilder b = new StringBuilder();
      for (String c : cols) b.append(c).append(':').append(rs.getString(c)).append(' ');
      out.add(b.toString().trim());
    }
    rs.close();
    Collections.sort(out);
    return String.join(" | ", out);
  }

  public static void main(String[] a) throws Exception {
    Properties p = new Properties();
    p.setProperty("user", "postgres");
    try (Connection c = DriverManager.getConnection(a[0], p)) {
      try (Statement s = c.createStatement()) {
        s.execute("DROP SCHEMA IF EXISTS gui CASCADE");
        s.execute("CREATE SCHEMA gui");
        s.execute("CREATE TABLE gui.parent (id int PRIMARY KEY, name text NOT NULL DEFAULT 'x')");
        s.execute("CREATE TABLE gui.child (id bigserial PRIMARY KEY, parent_id int REFERENCES gui.parent(id), amount numeric(10,2), tags text[])");
        s.execute("CREATE INDEX child_parent ON gui.child (parent_id)");
        s.execute("COMMENT ON TABLE gui.parent IS 'parents'");
        s.execute("COMMENT ON COLUMN gui.parent.name IS 'their name'");
        s.execute("CREATE VIEW gui.v AS SELECT id FROM gui.parent");
        s.execute("CREATE FUNCTION gui.twice(x int) RETURNS int LANGUAGE plpython3u AS $$ return 2 * x $$");
        s.execute("CREATE PROCEDURE gui.noop(INOUT x int) LANGUAGE plpython3u AS $$ return (x,) $$");
      }
      DatabaseMetaData m = c.getMetaData();
      System.out.println("tables=" + rows(m.getTables(null, "gui", "%", null), "TABLE_NAME", "TABLE_TYPE", "REMARKS"));
      System.out.println("columns=" + rows(m.getColumns(null, "gui", "%", "%"), "TABLE_NAME", "COLUMN_NAME", "TYPE_NAME", "COLUMN_SIZE", "DECIMAL_DIGITS", "IS_NULLABLE", "COLUMN_DEF", "REMARKS", "IS_AUTOINCREMENT"));
      System.out.println("pk=" + rows(m.getPrimaryKeys(null, "gui", "child"), "COLUMN_NAME", "PK_NAME"));
      System.out.println("fk=" + rows(m.getImportedKeys(null, "gui", "child"), "PKTABLE_NAME", "PKCOLUMN_NAME", "FKCOLUMN_NAME", "FK_NAME"));
      System.out.println("indexes=" + rows(m.getIndexInfo(null, "gui", "child", false, false), "INDEX_NAME", "NON_UNIQUE", "COLUMN_NAME"));
      System.out.println("functions=" + rows(m.getFunctions(null, "gui", "%"), "FUNCTION_NAME", "FUNCTION_TYPE"));
      System.out.println("procedures=" + rows(m.getProcedures(null, "gui", "%"), "PROCEDURE_NAME", "PROCEDURE_TYPE"));
      System.out.println("fcolumns=" + rows(m.getFunctionColumns(null, "gui", "twice", "%"), "COLUMN_NAME", "COLUMN_TYPE", "TYPE_NAME"));
      System.out.println("schemas=" + rows(m.getSchemas(null, "gui"), "TABLE_SCHEM"));
      System.out.println("catalogs=" + rows(m.getCatalogs(), "TABLE_CAT"));
      System.out.println("tabletypes=" + rows(m.getTableTypes(), "TABLE_TYPE"));
      System.out.println("types=" + rows(m.getTypeInfo(), "TYPE_NAME").split(" \\| ").length);
      System.out.println("product=" + m.getDatabaseProductName());
      try (CallableStatement cs = c.prepareCall("CALL gui.noop(?)")) {
        cs.registerOutParameter(1, Types.INTEGER);
        cs.setInt(1, 7);
        cs.execute();
        System.out.println("call=" + cs.getInt(1));
      }
      try (Statement s = c.createStatement()) { s.execute("DROP SCHEMA gui CASCADE"); }
    }
  }
}
