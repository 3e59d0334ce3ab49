<?cs include:"header.cs" ?>
<h1>Dashboard access <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="card">
  <p>Who may use this tenant's dashboard accounts, from where and for how long. An empty field takes the plan's or the global value.</p>
  <?cs if:AccessEdit ?><form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/access">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>"><?cs /if ?>
  <table>
    <thead><tr><th scope="col">Setting</th><th scope="col">In effect</th><th scope="col">From</th><?cs if:AccessEdit ?><th scope="col">This tenant's value</th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:a = Access ?>
      <tr>
        <th scope="row"><code><?cs var:a.Name ?></code><br><small class="muted"><?cs var:a.Help ?></small></th>
        <td><?cs var:a.Value ?></td>
        <td><?cs var:a.Source ?></td>
        <?cs if:AccessEdit ?><td><?cs if:a.Name == "dashboard_mfa" ?><select name="<?cs var:a.Name ?>" aria-label="<?cs var:a.Name ?>">
          <option value=""<?cs if:!a.Own ?> selected<?cs /if ?>>(inherit)</option>
          <option value="optional"<?cs if:a.Own == "optional" ?> selected<?cs /if ?>>optional</option>
          <option value="required"<?cs if:a.Own == "required" ?> selected<?cs /if ?>>required</option>
        </select><?cs else ?><input name="<?cs var:a.Name ?>" aria-label="<?cs var:a.Name ?>" maxlength="1000" value="<?cs var:a.Own ?>"><?cs /if ?></td><?cs /if ?>
      </tr>
    <?cs /each ?>
    </tbody>
  </table>
  <?cs if:AccessEdit ?><button type="submit" class="primary">Save</button>
  </form><?cs /if ?>
  <p><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>">Back to the tenant</a></p>
</section>
<?cs include:"footer.cs" ?>
