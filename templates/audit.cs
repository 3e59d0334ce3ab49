<?cs include:"header.cs" ?><?cs include:"picker.cs" ?>
<h1>Audit log</h1>
<form class="toolbar" method="get" action="<?cs var:Prefix ?>/admin/audit">
  <?cs if:User.Role != "tenant_admin" ?><?cs call:tenant_picker(Filter.TenantId) ?><?cs /if ?>
  <label>Action <input name="action" maxlength="64" placeholder="e.g. key.create" value="<?cs var:Filter.Action ?>"></label>
  <label>Outcome <select name="outcome">
    <option value="">any</option>
    <option value="ok"<?cs if:Filter.Outcome == "ok" ?> selected<?cs /if ?>>ok</option>
    <option value="denied"<?cs if:Filter.Outcome == "denied" ?> selected<?cs /if ?>>denied</option>
    <option value="error"<?cs if:Filter.Outcome == "error" ?> selected<?cs /if ?>>error</option>
  </select></label>
  <button type="submit">Filter</button>
  <a href="<?cs var:Prefix ?>/admin/audit">Clear</a>
</form>
<section class="card">
  <?cs if:subcount(Rows) == 0 ?>
  <p class="empty"><?cs if:Filter.Before ?>No older entries. <a href="<?cs var:Prefix ?>/admin/audit">Back to the newest</a>.<?cs elif:Filter.Action || Filter.Outcome ?>Nothing matches these filters; clear them to see every entry.<?cs else ?>No audit entries yet. Changes made here or with agenthostctl appear in this log.<?cs /if ?></p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>When</th><th>Who</th><th>What</th><th>Target</th><th>Tenant</th><th>From</th><th>Outcome</th><th>Reason</th></tr></thead>
    <tbody>
    <?cs each:a = Rows ?>
    <tr><td><?cs var:a.When ?></td><td><?cs var:a.Actor ?> <small class="muted"><?cs var:a.ActorType ?></small></td>
      <td><code><?cs var:a.Action ?></code></td><td><?cs var:a.Target ?></td>
      <td><?cs if:a.TenantId ?><?cs if:User.Role != "tenant_admin" ?><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:a.TenantId ?>"><?cs var:a.Tenant ?></a><?cs else ?><?cs var:a.Tenant ?><?cs /if ?><?cs /if ?></td>
      <td><?cs var:a.Ip ?></td>
      <td><span class="badge <?cs if:a.Outcome == "ok" ?>ok<?cs elif:a.Outcome == "denied" ?>warn<?cs else ?>bad<?cs /if ?>"><?cs var:a.Outcome ?></span></td>
      <td><?cs var:a.Reason ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
  <nav class="pager">
    <span><?cs if:Filter.Before ?><a href="<?cs var:Prefix ?>/admin/audit?tenant_id=<?cs var:Filter.TenantId ?>&amp;action=<?cs var:url_escape(Filter.Action) ?>&amp;outcome=<?cs var:url_escape(Filter.Outcome) ?>">Newest</a><?cs /if ?></span>
    <span><?cs if:Next ?><a href="<?cs var:Prefix ?>/admin/audit?tenant_id=<?cs var:Filter.TenantId ?>&amp;action=<?cs var:url_escape(Filter.Action) ?>&amp;outcome=<?cs var:url_escape(Filter.Outcome) ?>&amp;before=<?cs var:Next ?>">Older</a><?cs /if ?></span>
  </nav>
</section>
<?cs include:"footer.cs" ?>
