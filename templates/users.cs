<?cs include:"header.cs" ?>
<h1>Dashboard users</h1>
<?cs if:Secret.Password ?>
<section class="card" role="status">
  <h2>Password for <?cs var:Secret.For ?></h2>
  <p>Hand this password over now: it is shown only once and stored only as a hash.</p>
  <p><input id="newpw" class="secret" readonly value="<?cs var:Secret.Password ?>" aria-label="New password"> <button type="button" data-copy="newpw">Copy</button></p>
</section>
<?cs /if ?>
<section class="card">
  <div class="table-wrap">
  <table class="grid">
    <thead><tr><th>Name</th><th>Role</th><th>Tenant</th><th class="hide-sm">Created</th><th>Change role</th><th>Password</th><th>Remove</th></tr></thead>
    <tbody>
    <?cs each:u = Users ?>
    <tr>
      <td><?cs var:u.Name ?><?cs if:u.Name == User.Name ?> <small class="muted">(you)</small><?cs /if ?></td>
      <td><span class="badge"><?cs var:u.Role ?></span><?cs if:u.Mfa ?> <span class="badge" title="two-factor sign-in on">2FA</span><?cs /if ?></td>
      <td><?cs if:u.Tenant ?><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:u.TenantId ?>"><?cs var:u.Tenant ?></a><?cs else ?><small class="muted">all</small><?cs /if ?></td>
      <td class="hide-sm"><?cs var:u.Created ?></td>
      <?cs if:u.Name != User.Name ?>
      <td><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/users/<?cs var:url_escape(u.Name) ?>/role">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
        <select name="role" aria-label="Role"><option<?cs if:u.Role == "operator" ?> selected<?cs /if ?>>operator</option><option<?cs if:u.Role == "support" ?> selected<?cs /if ?>>support</option><option<?cs if:u.Role == "tenant_admin" ?> selected<?cs /if ?>>tenant_admin</option></select>
        <input name="tenant" size="10" placeholder="tenant" aria-label="Tenant" value="<?cs var:u.Tenant ?>">
        <button type="submit">Save</button></form></td>
      <td><form method="post" action="<?cs var:Prefix ?>/admin/users/<?cs var:url_escape(u.Name) ?>/password" data-confirm="Reset this user's password and end their sessions?">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>"><button type="submit">Reset</button></form></td>
      <td><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/users/<?cs var:url_escape(u.Name) ?>/delete">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
        <label class="check"><input type="checkbox" name="confirm" value="yes" required> sure</label>
        <button type="submit" class="danger">Remove</button></form></td>
      <?cs else ?><td colspan="3"><small class="muted">Your own account: use agenthostctl admin passwd.</small></td><?cs /if ?>
    </tr>
    <?cs /each ?>
    </tbody>
  </table>
  </div>
</section>
<section class="card">
  <h2>Add a user</h2>
  <form class="inline" method="post" action="<?cs var:Prefix ?>/admin/users">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name <input name="name" required maxlength="64"></label>
    <label>Role <select name="role"><option>support</option><option>tenant_admin</option><option>operator</option></select></label>
    <label>Tenant (for tenant_admin) <input name="tenant" placeholder="slug or id"></label>
    <button type="submit" class="primary">Add user</button>
  </form>
  <p class="sub">A password is generated and shown once. Operators see everything; support reads every tenant; a tenant_admin manages one tenant.</p>
</section>
<?cs include:"footer.cs" ?>
